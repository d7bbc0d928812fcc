// How an HTTP client failure or response reads as a retry-policy outcome: shared by every
// upstream call (LLM answers, embeddings) so they classify and back off alike.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "http/client.hpp"
#include "llm/retry_policy.hpp"

namespace ragd::llm {

/// The outcome kind of a failed send or body read: connect errors, timeouts, resets, cancel.
AttemptOutcome::Kind attempt_kind_for(http::ClientErrorKind kind);

/// The error code of a failed send or body read: kTimeout for the deadlines, else kUnavailable.
core::ErrorCode error_code_for(http::ClientErrorKind kind);

/// The delay a response asks for in its retry-after-ms or Retry-After header, if any.
std::optional<std::chrono::milliseconds> response_retry_delay(const http::ClientResponse& response);

/// The key held by environment variable `env_name` ("" = no key: returns ""). kInvalidArgument
/// naming the variable and `config_key` when it is unset or empty.
core::Result<std::string> api_key_from_env(const std::string& env_name,
                                           std::string_view config_key);

}  // namespace ragd::llm
