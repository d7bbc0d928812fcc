// The Redis-shared limiter. One script per admission (EVALSHA, EVAL after a NOSCRIPT), so a
// decision is one round trip and atomic however many replicas ask at once. Every failure path
// ends in the local buckets: an outage of Redis must never lift a key's limits.
#include "api/redis_rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <future>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <openssl/evp.h>

#include "cache/redis_client.hpp"
#include "core/log.hpp"

namespace ragd::api {
namespace net = boost::asio;
namespace {

constexpr double kSecondsPerDay = 24.0 * 3600.0;

// Mirrors core::TokenBucket and LocalRateLimiter::admit step by step (refill, the 1e-9 slack,
// oversized takes, refusals that consume nothing), on Redis' clock in microseconds. Levels are
// written with 17 digits and timestamps as integers: Lua would round numbers to 14 digits.
// Buckets are written only when they change; a bucket read and refilled but not written stays
// correct, because refill is a function of the stored state and the time.
constexpr const char* kScript = R"lua(
if redis.replicate_commands then
  pcall(redis.replicate_commands)
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local function load(index)
  local rate = tonumber(ARGV[1 + 2 * index])
  local burst = tonumber(ARGV[2 + 2 * index])
  if rate <= 0 then
    return nil
  end
  local state = redis.call('HMGET', KEYS[index], 'level', 'ts')
  local level = tonumber(state[1])
  local ts = tonumber(state[2])
  if level == nil or ts == nil then
    level = burst
    ts = now
  end
  if now > ts then
    level = level + (now - ts) / 1e6 * rate
  end
  return {key = KEYS[index], rate = rate, burst = burst, level = math.min(burst, level)}
end

local function wait_us(bucket, need)
  need = math.min(need, bucket.burst)
  local short = need - bucket.level
  if short <= 1e-9 * math.max(1, math.abs(need)) then
    return 0
  end
  return math.min(math.ceil(short / bucket.rate * 1e6), 1e15)
end

local function save(bucket)
  redis.call('HSET', bucket.key, 'level', string.format('%.17g', bucket.level),
             'ts', string.format('%.0f', now))
  local full_ms = math.ceil((bucket.burst - bucket.level) / bucket.rate * 1000)
  redis.call('PEXPIRE', bucket.key, string.format('%.0f', math.min(full_ms, 1e12) + 1000))
end

local requests, minute, day = load(1), load(2), load(3)
local allowed, exceeded, retry_us = 1, '', 0
if ARGV[1] == 'charge' then
  local tokens = tonumber(ARGV[2])
  if minute then
    minute.level = math.min(minute.burst, minute.level - tokens)
    save(minute)
  end
  if day then
    day.level = math.min(day.burst, day.level - tokens)
    save(day)
  end
else
  if ARGV[2] == '1' then
    if minute then
      local wait = wait_us(minute, 1)
      if wait > 0 then
        allowed, exceeded, retry_us = 0, 'tokens_per_minute', wait
      end
    end
    if day then
      local wait = wait_us(day, 1)
      if wait > 0 then
        allowed, exceeded, retry_us = 0, 'daily_tokens', wait
      end
    end
  end
  if allowed == 1 and requests then
    local wait = wait_us(requests, 1)
    if wait > 0 then
      allowed, exceeded, retry_us = 0, 'requests_per_second', wait
    else
      requests.level = requests.level - 1
      save(requests)
    end
  end
end
local remaining, reset_us = 0, 0
if requests then
  remaining = math.floor(math.max(0, requests.level) + 1e-9)
  reset_us = wait_us(requests, requests.burst)
end
return {allowed, exceeded, retry_us, remaining, reset_us}
)lua";

std::string sha1_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr) != 1) {
        return {};  // EVALSHA then fails with NOSCRIPT and EVAL takes over
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int byte_idx = 0; byte_idx < length; ++byte_idx) {
        out.push_back(kHex[digest[byte_idx] >> 4]);
        out.push_back(kHex[digest[byte_idx] & 0xf]);
    }
    return out;
}

std::string number_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

/// Whole seconds of `us` rounded up, at least `floor_s`.
std::chrono::seconds ceil_seconds(std::int64_t us, long floor_s) {
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(std::chrono::microseconds(us));
    return std::max(seconds, std::chrono::seconds(floor_s));
}

/// Whether Redis has anything to decide: otherwise the answer is "allowed" without a round trip.
bool needs_store(const RateLimits& limits, bool uses_tokens) {
    return limits.limits_requests() || (uses_tokens && limits.limits_tokens());
}

/// The script's keys and its ARGV[3..8] for `limits`; buckets left out get rate 0.
struct ScriptCall {
    std::vector<std::string> keys;
    std::vector<std::string> args;
};

ScriptCall script_call(const std::string& prefix,
                       const std::string& name,
                       const RateLimits& limits,
                       std::string op,
                       std::string operand,
                       bool with_requests,
                       bool with_budgets) {
    const std::string base = prefix + "{" + name + "}:";
    ScriptCall call;
    call.keys = {base + "req", base + "tpm", base + "day"};
    call.args = {std::move(op), std::move(operand)};
    const auto add = [&call](bool used, double rate, double burst) {
        call.args.push_back(number_text(used && rate > 0 ? rate : 0));
        call.args.push_back(number_text(burst));
    };
    add(with_requests && limits.limits_requests(), limits.requests_per_second, limits.burst);
    add(with_budgets && limits.tokens_per_minute > 0,
        limits.tokens_per_minute / 60.0,
        limits.tokens_per_minute);
    add(with_budgets && limits.daily_tokens > 0,
        limits.daily_tokens / kSecondsPerDay,
        limits.daily_tokens);
    return call;
}

core::Result<RateDecision> parse_decision(const cache::RedisReply& reply,
                                          const RateLimits& limits) {
    using Type = cache::RedisReply::Type;
    const auto& parts = reply.elements;
    if (reply.type != Type::kArray || parts.size() != 5 || parts[0].type != Type::kInteger ||
        parts[1].type != Type::kString || parts[2].type != Type::kInteger ||
        parts[3].type != Type::kInteger || parts[4].type != Type::kInteger) {
        return core::fail(core::ErrorCode::kIo,
                          "rate-limit script: unexpected reply shape (want 5 elements: allowed, "
                          "exceeded, retry_us, remaining, reset_us)");
    }
    RateDecision decision;
    decision.allowed = parts[0].integer == 1;
    decision.limited = limits.limits_requests();
    if (decision.limited) {
        decision.limit = static_cast<std::size_t>(std::floor(limits.burst));
        decision.remaining = static_cast<std::size_t>(std::max<std::int64_t>(0, parts[3].integer));
        decision.reset = ceil_seconds(parts[4].integer, 0);
    }
    if (!decision.allowed) {
        decision.exceeded = parts[1].str;
        decision.retry_after = ceil_seconds(parts[2].integer, 1);
    }
    return decision;
}

}  // namespace

struct RedisRateLimiter::Shared {
    Shared(std::shared_ptr<cache::RedisClient> redis,
           net::any_io_executor io,
           const ApiKeyStore& store,
           RedisRateLimiterOptions opts,
           RateClock::time_point now)
        : client(std::move(redis)),
          executor(std::move(io)),
          local(store, now),
          options(std::move(opts)),
          counts(options.counts ? options.counts : std::make_shared<RateLimitCounts>()),
          script_sha(sha1_hex(kScript)) {}

    /// Weak: the owner destroys the client before its io_context, background charges included.
    std::weak_ptr<cache::RedisClient> client;
    net::any_io_executor executor;
    LocalRateLimiter local;
    RedisRateLimiterOptions options;
    std::shared_ptr<RateLimitCounts> counts;
    std::string script_sha;
    /// Set from the first failure until the next success, so an outage logs twice, not per
    /// request.
    std::atomic<bool> outage{false};

    void note_success() {
        if (outage.exchange(false)) {
            core::log::info(
                "rate limits: Redis answers again; limits are shared between replicas "
                "again");
        }
    }

    void note_failure(const core::Error& error) {
        ++counts->redis_errors;
        if (!outage.exchange(true)) {
            core::log::warn(
                "rate limits: Redis failed; each replica enforces the limits with its own buckets "
                "until Redis answers again",
                {{"error", error.detail}});
        }
    }
};

namespace {

using SharedPtr = std::shared_ptr<RedisRateLimiter::Shared>;

net::awaitable<core::Result<cache::RedisReply>> run_script(SharedPtr shared, ScriptCall call) {
    const std::shared_ptr<cache::RedisClient> client = shared->client.lock();
    if (!client) {
        co_return core::fail(core::ErrorCode::kUnavailable,
                             "rate limits: the Redis client has been shut down");
    }
    std::vector<std::string> argv;
    argv.reserve(3 + call.keys.size() + call.args.size());
    argv.emplace_back("EVALSHA");
    argv.push_back(shared->script_sha);
    argv.push_back(std::to_string(call.keys.size()));
    argv.insert(argv.end(), call.keys.begin(), call.keys.end());
    argv.insert(argv.end(), call.args.begin(), call.args.end());
    auto reply = co_await client->command(std::move(argv));
    if (!reply && reply.error().code == core::ErrorCode::kIo &&
        reply.error().detail.find("NOSCRIPT") != std::string::npos) {
        // A Redis that has not seen the script yet (restarted, flushed, failed over): EVAL runs
        // it and caches it for the next EVALSHA.
        reply = co_await client->eval(kScript, std::move(call.keys), std::move(call.args));
    }
    co_return reply;
}

net::awaitable<core::Result<RateDecision>> decide_shared(SharedPtr shared,
                                                         std::string name,
                                                         RateLimits limits,
                                                         bool uses_tokens) {
    ScriptCall call = script_call(
        shared->options.prefix, name, limits, "admit", uses_tokens ? "1" : "0", true, uses_tokens);
    auto reply = co_await run_script(shared, std::move(call));
    if (!reply) {
        co_return reply.error();
    }
    co_return parse_decision(*reply, limits);
}

net::awaitable<void> charge_shared(SharedPtr shared,
                                   std::string name,
                                   RateLimits limits,
                                   std::size_t tokens) {
    ScriptCall call = script_call(
        shared->options.prefix, name, limits, "charge", std::to_string(tokens), false, true);
    auto reply = co_await run_script(shared, std::move(call));
    if (reply) {
        shared->note_success();
    } else {
        shared->note_failure(reply.error());
    }
}

}  // namespace

RedisRateLimiter::RedisRateLimiter(std::shared_ptr<cache::RedisClient> client,
                                   net::any_io_executor executor,
                                   const ApiKeyStore& store,
                                   RedisRateLimiterOptions options,
                                   RateClock::time_point now)
    : shared_(std::make_shared<Shared>(
          std::move(client), std::move(executor), store, std::move(options), now)) {}

RedisRateLimiter::~RedisRateLimiter() = default;

const RateLimitCounts& RedisRateLimiter::counts() const {
    return *shared_->counts;
}

RateDecision RedisRateLimiter::settle(const ApiKey& key,
                                      bool uses_tokens,
                                      RateClock::time_point now,
                                      const core::Result<RateDecision>& shared) {
    if (shared) {
        shared_->note_success();
        ++shared_->counts->shared_decisions;
        if (shared->allowed && key.limits.limits_requests()) {
            // Shadow this replica's share, so a fallback starts from where this replica is.
            shared_->local.admit(key, false, now);
        }
        return *shared;
    }
    shared_->note_failure(shared.error());
    ++shared_->counts->local_decisions;
    return shared_->local.admit(key, uses_tokens, now);
}

RateDecision RedisRateLimiter::admit(const ApiKey& key,
                                     bool uses_tokens,
                                     RateClock::time_point now) {
    if (!needs_store(key.limits, uses_tokens)) {
        return shared_->local.admit(key, uses_tokens, now);
    }
    // Waiting on a thread that runs the io_context could stall the very I/O awaited (with one
    // I/O thread, for the whole timeout); such callers get the local decision at once.
    const auto* io = shared_->executor.target<net::io_context::executor_type>();
    if (io == nullptr || io->running_in_this_thread()) {
        ++shared_->counts->local_decisions;
        return shared_->local.admit(key, uses_tokens, now);
    }
    auto future = net::co_spawn(shared_->executor,
                                decide_shared(shared_, key.name, key.limits, uses_tokens),
                                net::use_future);
    // A connect and a command, each bounded by the client's deadline (= options.timeout).
    if (future.wait_for(2 * shared_->options.timeout) != std::future_status::ready) {
        shared_->note_failure(core::fail(core::ErrorCode::kTimeout,
                                         "rate limits: no answer from Redis within " +
                                             std::to_string(shared_->options.timeout.count()) +
                                             " ms"));
        ++shared_->counts->local_decisions;
        return shared_->local.admit(key, uses_tokens, now);
    }
    return settle(key, uses_tokens, now, future.get());
}

net::awaitable<RateDecision> RedisRateLimiter::admit_async(const ApiKey& key,
                                                           bool uses_tokens,
                                                           RateClock::time_point now) {
    if (!needs_store(key.limits, uses_tokens)) {
        co_return shared_->local.admit(key, uses_tokens, now);
    }
    auto shared = co_await decide_shared(shared_, key.name, key.limits, uses_tokens);
    co_return settle(key, uses_tokens, now, shared);
}

void RedisRateLimiter::charge_tokens(const ApiKey& key,
                                     std::size_t tokens,
                                     RateClock::time_point now) {
    if (tokens == 0 || !key.limits.limits_tokens()) {
        return;
    }
    shared_->local.charge_tokens(key, tokens, now);
    // The answer is already on its way to the client; nobody waits for the shared charge.
    net::co_spawn(
        shared_->executor, charge_shared(shared_, key.name, key.limits, tokens), net::detached);
}

net::awaitable<void> RedisRateLimiter::charge_tokens_async(const ApiKey& key,
                                                           std::size_t tokens,
                                                           RateClock::time_point now) {
    if (tokens == 0 || !key.limits.limits_tokens()) {
        co_return;
    }
    shared_->local.charge_tokens(key, tokens, now);
    co_await charge_shared(shared_, key.name, key.limits, tokens);
}

}  // namespace ragd::api
