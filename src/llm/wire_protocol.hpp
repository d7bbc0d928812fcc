// An LLM API dialect on the wire: how a prompt becomes an HTTP request, and how a response body
// or an SSE stream becomes text, usage and errors. Pure functions of bytes, no I/O, so both
// dialects are unit-tested and fuzzed without a server.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "http/aws_credentials.hpp"
#include "http/message.hpp"
#include "llm/prompt_builder.hpp"

namespace ragd::llm {

/// Token counts as the upstream reported them (zero and reported=false when it did not).
struct Usage {
    std::size_t prompt_tokens = 0;
    std::size_t completion_tokens = 0;
    bool reported = false;
};

/// What an upstream call needs besides the prompt.
struct CallParams {
    std::string model;
    std::size_t max_tokens = 512;
    double temperature = 0.2;
    bool stream = false;
    /// When the request is built (Bedrock signs it with this time); epoch = the clock's now.
    std::chrono::system_clock::time_point now{};
};

/// Where and how to send: the parts of an UpstreamConfig a request is built from. The API key
/// is resolved from the environment once, at startup; AWS credentials may be refreshed.
struct Endpoint {
    std::string api_key;         ///< may be empty (local servers)
    std::string api_key_header;  ///< "" = the dialect's own
    std::string extra_query;     ///< without '?'
    std::vector<http::Header> extra_headers;
    std::string anthropic_version = "2023-06-01";
    /// Bedrock without an API key: requests are signed (SigV4) with the provider's current
    /// credentials, for the Host header and path prefix the HTTP client will send. Null: none.
    std::shared_ptr<const http::AwsCredentialsProvider> aws_credentials;
    std::string aws_region;
    std::string host_header;
    std::string path_prefix;
};

/// A non-streamed answer.
struct Completion {
    std::string text;
    Usage usage;
    std::string finish_reason;
};

/// One thing learned from a stream.
struct StreamEvent {
    enum class Kind { kDelta, kUsage, kDone, kError };
    Kind kind = Kind::kDelta;
    std::string text;  ///< kDelta: the new text; kError: what the upstream said
    Usage usage;       ///< kUsage: counts known so far (prompt and/or completion)
};

/// Turns a response body, fed in arbitrary pieces, into StreamEvents. Malformed events become a
/// kError event, never an exception.
class StreamDecoder {
public:
    virtual ~StreamDecoder() = default;
    virtual void feed(std::string_view bytes, std::vector<StreamEvent>& out) = 0;
};

/// The request line, headers and body for one call.
struct WireRequest {
    std::string target;  ///< "/v1/chat/completions?api-version=..."
    std::vector<http::Header> headers;
    std::string body;
};

class WireProtocol {
public:
    virtual ~WireProtocol() = default;
    /// "openai", "anthropic" or "bedrock".
    virtual std::string_view dialect() const = 0;
    virtual WireRequest build_request(const Prompt& prompt,
                                      const CallParams& params,
                                      const Endpoint& endpoint) const = 0;
    /// kCorrupt when the body is not the dialect's completion shape.
    virtual core::Result<Completion> parse_completion(std::string_view body) const = 0;
    virtual std::unique_ptr<StreamDecoder> stream_decoder() const = 0;
    /// The message inside an error body ({"error":{"message":...}}), cut to 300 bytes, or a
    /// short excerpt of the body when it has no such shape.
    static std::string error_detail(std::string_view body);
};

/// Chat Completions (OpenAI and every compatible server).
std::unique_ptr<WireProtocol> make_openai_protocol();
/// Anthropic Messages.
std::unique_ptr<WireProtocol> make_anthropic_protocol();
/// Amazon Bedrock Converse / ConverseStream (bedrock_protocol.cpp).
std::unique_ptr<WireProtocol> make_bedrock_protocol();
/// By dialect name; null for an unknown one.
std::unique_ptr<WireProtocol> make_wire_protocol(std::string_view dialect);

/// "Name: value; Name2: value2" -> headers; kInvalidArgument names a malformed entry.
core::Result<std::vector<http::Header>> parse_header_list(std::string_view text);

}  // namespace ragd::llm
