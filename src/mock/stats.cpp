// GET /stats rendering.
#include "mock/stats.hpp"

#include <boost/json.hpp>

namespace ragd::mock {

namespace json = boost::json;

namespace {

std::uint64_t load(const MockStats::Counter& counter) {
    return counter.load(std::memory_order_relaxed);
}

std::int64_t load(const MockStats::Gauge& gauge) {
    return gauge.load(std::memory_order_relaxed);
}

}  // namespace

std::string MockStats::to_json() const {
    json::object by_endpoint{
        {"chat_completions", load(requests[static_cast<int>(Endpoint::kChatCompletions)])},
        {"messages", load(requests[static_cast<int>(Endpoint::kMessages)])},
        {"converse", load(requests[static_cast<int>(Endpoint::kConverse)])},
        {"rerank", load(requests[static_cast<int>(Endpoint::kRerank)])},
        {"embeddings", load(requests[static_cast<int>(Endpoint::kEmbeddings)])},
        {"health", load(requests[static_cast<int>(Endpoint::kHealth)])},
        {"stats", load(requests[static_cast<int>(Endpoint::kStats)])},
        {"other", load(requests[static_cast<int>(Endpoint::kOther)])},
    };
    json::object by_kind;
    for (const ErrorKind kind :
         {ErrorKind::kServerError, ErrorKind::kRateLimited, ErrorKind::kReset, ErrorKind::kStall}) {
        by_kind[error_kind_name(kind)] = load(errors_injected[static_cast<int>(kind)]);
    }
    const json::object stats{
        {"requests", std::move(by_endpoint)},
        {"requests_in_flight", load(requests_in_flight)},
        {"streams_in_flight", load(streams_in_flight)},
        {"streams_completed", load(streams_completed)},
        {"connections_open", load(connections_open)},
        {"connections_accepted", load(connections_accepted)},
        {"client_closed_mid_stream", load(client_closed_mid_stream)},
        {"client_closed_before_response", load(client_closed_before_response)},
        {"errors_injected", std::move(by_kind)},
        {"auth_failures", load(auth_failures)},
        {"bad_requests", load(bad_requests)},
        {"tokens_sent", load(tokens_sent)},
        {"accept_errors", load(accept_errors)},
    };
    return json::serialize(stats);
}

}  // namespace ragd::mock
