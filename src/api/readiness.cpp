// ReadinessRegistry: checks are copied out under the lock and run without it, so a slow check
// never blocks registration or another /ready.
#include "api/readiness.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

namespace ragd::api {
namespace json = boost::json;

std::string_view check_status_name(CheckStatus status) {
    switch (status) {
        case CheckStatus::kOk:
            return "ok";
        case CheckStatus::kDegraded:
            return "degraded";
        case CheckStatus::kFailing:
            return "failing";
    }
    return "failing";
}

void ReadinessRegistry::add(std::string name, Requirement requirement, ReadinessCheck check) {
    std::lock_guard lock(entries_mutex_);
    const auto existing = std::find_if(
        entries_.begin(), entries_.end(), [&](const Entry& entry) { return entry.name == name; });
    if (existing != entries_.end()) {
        existing->requirement = requirement;
        existing->check = std::move(check);
        return;
    }
    entries_.push_back(Entry{std::move(name), requirement, std::move(check)});
}

ReadinessReport ReadinessRegistry::evaluate() const {
    std::vector<Entry> entries;
    {
        std::lock_guard lock(entries_mutex_);
        entries = entries_;
    }
    bool required_ok = true;
    json::object checks;
    for (const Entry& entry : entries) {
        CheckResult result;
        try {
            result = entry.check();
        } catch (const std::exception& error) {
            result =
                CheckResult{CheckStatus::kFailing, std::string("check threw: ") + error.what(), {}};
        } catch (...) {
            result = CheckResult{CheckStatus::kFailing, "check threw", {}};
        }
        const bool required = entry.requirement == Requirement::kRequired;
        if (required && result.status != CheckStatus::kOk) {
            required_ok = false;
        }
        json::object check{{"status", check_status_name(result.status)}, {"required", required}};
        if (!result.detail.empty()) {
            check["detail"] = result.detail;
        }
        for (auto& field : result.fields) {
            check.emplace(field.key(), std::move(field.value()));  // never overrides the above
        }
        checks[entry.name] = std::move(check);
    }
    ReadinessReport report;
    const bool draining = this->draining();
    report.ready = required_ok && !draining;
    const char* status = draining ? "draining" : (required_ok ? "ready" : "not_ready");
    report.body = json::object{{"status", status}, {"checks", std::move(checks)}};
    return report;
}

bool follower_stalled(std::int64_t lag,
                      std::chrono::steady_clock::duration since_success,
                      std::chrono::milliseconds interval) {
    // Never less than the grace: one catch-up of a large batch can take seconds.
    constexpr int kMissedIntervals = 10;
    constexpr std::chrono::seconds kMinGrace{15};
    const auto allowed =
        std::max<std::chrono::steady_clock::duration>(interval * kMissedIntervals, kMinGrace);
    return lag > 0 && since_success > allowed;
}

void add_engine_checks(ReadinessRegistry& registry, pipeline::Engine& engine) {
    registry.add("storage", Requirement::kRequired, [&engine] {
        auto last = engine.storage().last_seq();
        if (!last) {
            return CheckResult{CheckStatus::kFailing, last.error().detail, {}};
        }
        return CheckResult{CheckStatus::kOk, {}, json::object{{"seq", *last}}};
    });
    registry.add("indexes", Requirement::kRequired, [&engine] {
        const pipeline::IndexStats stats = engine.index_stats();
        const std::int64_t applied = std::min(stats.vectors_applied_seq, stats.bm25_applied_seq);
        json::object fields{{"applied_seq", applied},
                            {"vectors", stats.vectors},
                            {"bm25_chunks", stats.bm25_chunks}};
        auto last = engine.storage().last_seq();
        if (!last) {
            return CheckResult{CheckStatus::kFailing,
                               "storage sequence unreadable: " + last.error().detail,
                               std::move(fields)};
        }
        const std::int64_t lag = std::max<std::int64_t>(0, *last - applied);
        fields["storage_seq"] = *last;
        fields["lag"] = lag;
        if (const pipeline::ChangeFollower* follower = engine.follower(); follower != nullptr) {
            // A replica on shared storage is always a little behind the others' writes: that
            // is normal while it keeps following, and not ready once it has stopped managing to.
            const pipeline::FollowerStatus status = follower->status();
            const auto since = std::chrono::steady_clock::now() - status.last_success;
            fields["following"] = json::object{
                {"interval_ms", follower->interval().count()},
                {"failures_in_a_row", status.failures_in_a_row},
                {"ms_since_success",
                 std::chrono::duration_cast<std::chrono::milliseconds>(since).count()}};
            if (follower_stalled(lag, since, follower->interval())) {
                return CheckResult{
                    CheckStatus::kFailing,
                    "indexes at sequence " + std::to_string(applied) + ", storage at " +
                        std::to_string(*last) + ", not followed for " +
                        std::to_string(
                            std::chrono::duration_cast<std::chrono::seconds>(since).count()) +
                        " s" + (status.last_error.empty() ? "" : ": " + status.last_error),
                    std::move(fields)};
            }
            return CheckResult{CheckStatus::kOk, {}, std::move(fields)};
        }
        if (lag > 0) {
            return CheckResult{CheckStatus::kFailing,
                               "indexes at sequence " + std::to_string(applied) + ", storage at " +
                                   std::to_string(*last),
                               std::move(fields)};
        }
        return CheckResult{CheckStatus::kOk, {}, std::move(fields)};
    });
}

void add_upstream_checks(ReadinessRegistry& registry, const llm::Answerer& answerer) {
    for (const llm::UpstreamStatus& initial : answerer.upstream_statuses()) {
        const std::string name = initial.name;
        registry.add("upstream:" + name, Requirement::kOptional, [&answerer, name] {
            CheckResult result;
            for (const llm::UpstreamStatus& status : answerer.upstream_statuses()) {
                if (status.name != name) {
                    continue;
                }
                const bool closed = status.breaker == llm::CircuitBreaker::State::kClosed;
                result.status = closed ? CheckStatus::kOk : CheckStatus::kDegraded;
                result.fields["breaker"] = llm::circuit_state_name(status.breaker);
                result.fields["model"] = status.model;
                result.fields["connections_in_use"] = status.pool.in_use;
                result.fields["connections_idle"] = status.pool.idle;
                if (!closed) {
                    result.detail = "circuit breaker is " +
                                    std::string(llm::circuit_state_name(status.breaker)) +
                                    "; answers come from the fallback chain";
                }
            }
            return result;
        });
    }
}

void add_reranker_check(ReadinessRegistry& registry, const llm::Reranker& reranker) {
    registry.add("reranker", Requirement::kOptional, [&reranker] {
        CheckResult result;
        const llm::CircuitBreaker::State state = reranker.breaker_state();
        const bool closed = state == llm::CircuitBreaker::State::kClosed;
        result.status = closed ? CheckStatus::kOk : CheckStatus::kDegraded;
        result.fields["breaker"] = llm::circuit_state_name(state);
        result.fields["reranker"] = reranker.id();
        if (!closed) {
            result.detail = "circuit breaker is " + std::string(llm::circuit_state_name(state)) +
                            "; queries keep the fused order";
        }
        return result;
    });
}

void add_embedder_check(ReadinessRegistry& registry, const embed::HttpEmbedder& embedder) {
    registry.add("embedder", Requirement::kOptional, [&embedder] {
        CheckResult result;
        const std::string state = embedder.breaker_state();
        const bool closed = state == "closed";
        result.status = closed ? CheckStatus::kOk : CheckStatus::kDegraded;
        result.fields["breaker"] = state;
        result.fields["embedder"] = embedder.model_id();
        if (!closed) {
            result.detail = "circuit breaker is " + state + "; hybrid queries use BM25 alone";
        }
        return result;
    });
}

void add_cache_checks(ReadinessRegistry& registry, const cache::AnswerCache& answers) {
    if (answers.redis() == nullptr) {
        return;
    }
    registry.add("redis", Requirement::kOptional, [&answers] {
        CheckResult result;
        const bool healthy = answers.redis()->healthy();
        result.status = healthy ? CheckStatus::kOk : CheckStatus::kDegraded;
        const cache::RedisEndpoint& endpoint = answers.redis()->endpoint();
        // Host and port only: the URL may carry a password.
        result.fields["endpoint"] = endpoint.host + ":" + std::to_string(endpoint.port);
        if (!healthy) {
            result.detail = "Redis is unreachable; answers are cached in this process only";
        }
        return result;
    });
}

}  // namespace ragd::api
