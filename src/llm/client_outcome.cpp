#include "llm/client_outcome.hpp"

#include <cstdlib>

namespace ragd::llm {

AttemptOutcome::Kind attempt_kind_for(http::ClientErrorKind kind) {
    switch (kind) {
        case http::ClientErrorKind::kConnect:
        case http::ClientErrorKind::kTls:
        case http::ClientErrorKind::kPoolExhausted:
        case http::ClientErrorKind::kInvalidUrl:
            return AttemptOutcome::Kind::kConnectError;
        case http::ClientErrorKind::kConnectTimeout:
            return AttemptOutcome::Kind::kConnectTimeout;
        case http::ClientErrorKind::kFirstByteTimeout:
        case http::ClientErrorKind::kReadIdleTimeout:
        case http::ClientErrorKind::kTotalTimeout:
            return AttemptOutcome::Kind::kTimeout;
        case http::ClientErrorKind::kReset:
        case http::ClientErrorKind::kProtocol:
            return AttemptOutcome::Kind::kConnectionReset;
        case http::ClientErrorKind::kCancelled:
            return AttemptOutcome::Kind::kCancelled;
    }
    return AttemptOutcome::Kind::kConnectError;
}

core::ErrorCode error_code_for(http::ClientErrorKind kind) {
    switch (kind) {
        case http::ClientErrorKind::kConnectTimeout:
        case http::ClientErrorKind::kFirstByteTimeout:
        case http::ClientErrorKind::kReadIdleTimeout:
        case http::ClientErrorKind::kTotalTimeout:
            return core::ErrorCode::kTimeout;
        default:
            return core::ErrorCode::kUnavailable;
    }
}

std::optional<std::chrono::milliseconds> response_retry_delay(
    const http::ClientResponse& response) {
    const auto header = [&response](std::string_view name) {
        auto value = response.header(name);
        return value ? *value : std::string_view();
    };
    return server_retry_delay(header("retry-after-ms"), header("retry-after"));
}

core::Result<std::string> api_key_from_env(const std::string& env_name,
                                           std::string_view config_key) {
    if (env_name.empty()) {
        return std::string();
    }
    const char* key = std::getenv(env_name.c_str());
    if (key == nullptr || *key == '\0') {
        return core::fail(
            core::ErrorCode::kInvalidArgument,
            "environment variable " + env_name + " (" + std::string(config_key) + ") is not set");
    }
    return std::string(key);
}

}  // namespace ragd::llm
