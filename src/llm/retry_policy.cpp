// Retry classification, backoff and Retry-After parsing (RFC 9110 section 10.2.3 and 5.6.7), and
// the windowed retry budget.
#include "llm/retry_policy.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <random>
#include <utility>

#include "core/text.hpp"

namespace ragd::llm {
namespace {

using std::chrono::milliseconds;

/// Longest delay a header may express before it is clamped: a day is "too long" for every cap,
/// and clamping keeps the millisecond count far from overflow.
constexpr double kMaxHeaderDelayMs = 24.0 * 3600 * 1000;

double thread_local_random_unit() {
    thread_local std::minstd_rand engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/// A non-negative decimal number ("12", "1.5"), or nullopt.
std::optional<double> parse_decimal(std::string_view text) {
    text = core::trim_ows(text);
    if (text.empty() || !is_digit(text.front())) {
        return std::nullopt;
    }
    double value = 0;
    std::size_t pos = 0;
    for (; pos < text.size() && is_digit(text[pos]); ++pos) {
        value = value * 10 + (text[pos] - '0');
    }
    if (pos < text.size() && text[pos] == '.') {
        double scale = 0.1;
        for (++pos; pos < text.size() && is_digit(text[pos]); ++pos) {
            value += (text[pos] - '0') * scale;
            scale /= 10;
        }
    }
    if (pos != text.size()) {
        return std::nullopt;
    }
    return value;
}

milliseconds clamp_ms(double ms) {
    return milliseconds(static_cast<milliseconds::rep>(std::ceil(std::min(ms, kMaxHeaderDelayMs))));
}

/// A forward-only reader over an HTTP-date.
class DateReader {
public:
    explicit DateReader(std::string_view text) : text_(text) {}

    bool done() const { return pos_ == text_.size(); }
    bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
    bool eat(char c) {
        if (!peek(c)) {
            return false;
        }
        ++pos_;
        return true;
    }
    bool eat_spaces() {
        const std::size_t start = pos_;
        while (peek(' ')) {
            ++pos_;
        }
        return pos_ > start;
    }
    std::string_view word() {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) {
            ++pos_;
        }
        return text_.substr(start, pos_ - start);
    }
    /// Between `min_digits` and `max_digits` digits, or -1.
    int number(std::size_t min_digits, std::size_t max_digits) {
        const std::size_t start = pos_;
        int value = 0;
        while (pos_ < text_.size() && pos_ - start < max_digits && is_digit(text_[pos_])) {
            value = value * 10 + (text_[pos_++] - '0');
        }
        return pos_ - start >= min_digits ? value : -1;
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

/// 1..12 for an English month abbreviation (case-insensitive), else 0.
unsigned month_number(std::string_view name) {
    static constexpr std::array<std::string_view, 12> kMonths = {
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    if (name.size() != 3) {
        return 0;
    }
    for (std::size_t month_idx = 0; month_idx < kMonths.size(); ++month_idx) {
        const auto& month = kMonths[month_idx];
        if (std::equal(name.begin(), name.end(), month.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == b;
            })) {
            return static_cast<unsigned>(month_idx + 1);
        }
    }
    return 0;
}

bool read_time_of_day(DateReader& reader, int& hour, int& minute, int& second) {
    hour = reader.number(2, 2);
    if (hour < 0 || !reader.eat(':')) {
        return false;
    }
    minute = reader.number(2, 2);
    if (minute < 0 || !reader.eat(':')) {
        return false;
    }
    second = reader.number(2, 2);
    // 60 is a leap second; treat it as the next second's start.
    return second >= 0 && hour <= 23 && minute <= 59 && second <= 60;
}

/// The three HTTP-date forms of RFC 9110 section 5.6.7; nullopt when `text` is none of them.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text) {
    DateReader reader(core::trim_ows(text));
    if (reader.word().empty()) {  // the day name, not checked against the date
        return std::nullopt;
    }
    int day = -1;
    unsigned month = 0;
    int year = -1;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (reader.eat(',')) {
        reader.eat_spaces();
        day = reader.number(1, 2);
        if (reader.eat('-')) {  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            month = month_number(reader.word());
            if (!reader.eat('-')) {
                return std::nullopt;
            }
            year = reader.number(2, 2);
            // Two-digit years: RFC 9110 wants the most recent past year with those digits;
            // "70 and later is the 1900s" is that rule for any date this code will see.
            if (year >= 0) {
                year += year >= 70 ? 1900 : 2000;
            }
        } else {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            if (!reader.eat_spaces()) {
                return std::nullopt;
            }
            month = month_number(reader.word());
            if (!reader.eat_spaces()) {
                return std::nullopt;
            }
            year = reader.number(4, 4);
        }
        if (!reader.eat_spaces() || !read_time_of_day(reader, hour, minute, second) ||
            !reader.eat_spaces() || reader.word() != "GMT") {
            return std::nullopt;
        }
    } else {  // asctime: Sun Nov  6 08:49:37 1994
        if (!reader.eat_spaces()) {
            return std::nullopt;
        }
        month = month_number(reader.word());
        if (!reader.eat_spaces()) {
            return std::nullopt;
        }
        day = reader.number(1, 2);
        if (!reader.eat_spaces() || !read_time_of_day(reader, hour, minute, second) ||
            !reader.eat_spaces()) {
            return std::nullopt;
        }
        year = reader.number(4, 4);
    }
    reader.eat_spaces();
    if (!reader.done() || day < 1 || month == 0 || year < 0) {
        return std::nullopt;
    }
    const std::chrono::year_month_day date{std::chrono::year(year),
                                           std::chrono::month(month),
                                           std::chrono::day(static_cast<unsigned>(day))};
    if (!date.ok()) {
        return std::nullopt;
    }
    return std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
           std::chrono::seconds(second);
}

}  // namespace

const char* retry_verdict_name(RetryDecision::Verdict verdict) {
    switch (verdict) {
        case RetryDecision::Verdict::kRetry:
            return "retry";
        case RetryDecision::Verdict::kNotRetryable:
            return "not_retryable";
        case RetryDecision::Verdict::kAttemptsExhausted:
            return "attempts_exhausted";
        case RetryDecision::Verdict::kRetryAfterTooLong:
            return "retry_after_too_long";
        case RetryDecision::Verdict::kDeadline:
            return "deadline";
    }
    return "unknown";
}

RetryPolicy::RetryPolicy(RetryOptions options, RandomUnit random)
    : options_(options),
      random_(random ? std::move(random) : RandomUnit(&thread_local_random_unit)) {}

bool RetryPolicy::is_retryable(const AttemptOutcome& outcome) {
    if (outcome.streamed_to_client) {
        return false;
    }
    switch (outcome.kind) {
        case AttemptOutcome::Kind::kConnectError:
        case AttemptOutcome::Kind::kConnectTimeout:
        case AttemptOutcome::Kind::kConnectionReset:
            return true;
        case AttemptOutcome::Kind::kHttpStatus:
            switch (outcome.http_status) {
                case 429:
                case 500:
                case 502:
                case 503:
                case 504:
                case 529:
                    return true;
                default:
                    return false;
            }
        case AttemptOutcome::Kind::kTimeout:
        case AttemptOutcome::Kind::kCancelled:
            return false;
    }
    return false;
}

milliseconds RetryPolicy::backoff(std::size_t attempts_made) const {
    // base * 2^(k-1), computed in double so that a large k saturates at max_delay, not overflows.
    const double exponent = static_cast<double>(std::min<std::size_t>(attempts_made, 64)) - 1;
    const double ceiling_ms = std::min(
        static_cast<double>(options_.max_delay.count()),
        static_cast<double>(options_.base_delay.count()) * std::exp2(std::max(0.0, exponent)));
    const double unit = std::clamp(random_(), 0.0, 1.0);
    return milliseconds(static_cast<milliseconds::rep>(std::max(0.0, ceiling_ms) * unit));
}

RetryDecision RetryPolicy::decide(const AttemptOutcome& outcome,
                                  std::size_t attempts_made,
                                  std::chrono::nanoseconds time_left) const {
    using Verdict = RetryDecision::Verdict;
    if (!is_retryable(outcome)) {
        return {Verdict::kNotRetryable, milliseconds(0)};
    }
    if (attempts_made >= options_.max_attempts) {
        return {Verdict::kAttemptsExhausted, milliseconds(0)};
    }
    milliseconds delay{0};
    if (outcome.retry_after) {
        if (*outcome.retry_after > options_.max_retry_after) {
            return {Verdict::kRetryAfterTooLong, milliseconds(0)};
        }
        delay = std::max(milliseconds(0), *outcome.retry_after);
    } else {
        delay = backoff(attempts_made);
    }
    if (delay >= time_left) {
        return {Verdict::kDeadline, milliseconds(0)};
    }
    return {Verdict::kRetry, delay};
}

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) {
    if (const auto seconds = parse_decimal(value)) {
        return clamp_ms(*seconds * 1000);
    }
    const auto when = parse_http_date(value);
    if (!when) {
        return std::nullopt;
    }
    if (*when <= now) {
        return milliseconds(0);
    }
    return clamp_ms(std::chrono::duration<double, std::milli>(*when - now).count());
}

std::optional<milliseconds> parse_retry_after_ms(std::string_view value) {
    if (const auto ms = parse_decimal(value)) {
        return clamp_ms(*ms);
    }
    return std::nullopt;
}

std::optional<milliseconds> server_retry_delay(std::string_view retry_after_ms,
                                               std::string_view retry_after,
                                               std::chrono::system_clock::time_point now) {
    if (!retry_after_ms.empty()) {
        if (const auto delay = parse_retry_after_ms(retry_after_ms)) {
            return delay;
        }
    }
    if (!retry_after.empty()) {
        return parse_retry_after(retry_after, now);
    }
    return std::nullopt;
}

RetryBudget::RetryBudget(RetryBudgetOptions options)
    : options_(options),
      bucket_width_(std::max(
          std::chrono::nanoseconds(1),
          std::chrono::nanoseconds(options.window) / static_cast<std::int64_t>(kBuckets))) {}

RetryBudget::Bucket& RetryBudget::current_bucket(Clock::time_point now) {
    const std::int64_t index = std::max<std::int64_t>(0, now.time_since_epoch() / bucket_width_);
    auto& bucket = buckets_[static_cast<std::size_t>(index) % kBuckets];
    if (bucket.index < index) {
        bucket = Bucket{index, 0, 0};
    }
    // A `now` older than the ring (threads racing) lands in a newer bucket: harmless here.
    return bucket;
}

void RetryBudget::record_request(Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    ++current_bucket(now).requests;
}

bool RetryBudget::try_acquire_retry(Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    Bucket& current = current_bucket(now);
    std::uint64_t requests = 0;
    std::uint64_t retries = 0;
    for (const auto& bucket : buckets_) {
        if (bucket.index > current.index - static_cast<std::int64_t>(kBuckets)) {
            requests += bucket.requests;
            retries += bucket.retries;
        }
    }
    const double window_s = std::chrono::duration<double>(options_.window).count();
    const double allowed = options_.budget_ratio * static_cast<double>(requests) +
                           options_.min_retries_per_second * window_s;
    if (static_cast<double>(retries + 1) > allowed) {
        return false;
    }
    ++current.retries;
    return true;
}

}  // namespace ragd::llm
