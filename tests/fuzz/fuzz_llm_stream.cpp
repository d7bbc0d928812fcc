// libFuzzer harness for what ragd reads from an LLM upstream (OpenAI, Anthropic, Bedrock): the
// input (after two bytes choosing a split point) is an upstream response body. Each stream decoder
// is fed it in one piece, split in two at the chosen point, and (when short) byte by byte; every
// way must give the same events, since upstream bodies arrive split anywhere. Events must be
// well-formed: deltas and errors carry UTF-8 text, errors are cut to the documented length. The
// same body is also read as a non-streamed completion and as an error body, whose detail ends up
// in a JSON error sent to the client: valid UTF-8, no control characters, bounded. Bedrock's
// decoder gets the body with its event stream lengths and CRCs fixed up, so its event payloads
// are reached. The body is also read as a rerank answer of both dialects and as an embeddings
// answer.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.hpp"
#include "embed/embedding_protocol.hpp"
#include "event_stream_fixup.hpp"
#include "llm/rerank_protocol.hpp"
#include "llm/wire_protocol.hpp"

namespace {

using ragd::llm::StreamDecoder;
using ragd::llm::StreamEvent;
using ragd::llm::WireProtocol;

/// error_detail-style cut: 300 bytes plus "...".
constexpr std::size_t kMaxErrorText = 303;

bool same(const std::vector<StreamEvent>& a, const std::vector<StreamEvent>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t event_idx = 0; event_idx < a.size(); ++event_idx) {
        const StreamEvent& x = a[event_idx];
        const StreamEvent& y = b[event_idx];
        if (x.kind != y.kind || x.text != y.text ||
            x.usage.prompt_tokens != y.usage.prompt_tokens ||
            x.usage.completion_tokens != y.usage.completion_tokens ||
            x.usage.reported != y.usage.reported) {
            return false;
        }
    }
    return true;
}

void check_well_formed(const std::vector<StreamEvent>& events) {
    for (const StreamEvent& event : events) {
        switch (event.kind) {
            case StreamEvent::Kind::kDelta:
                if (event.text.empty() || !ragd::core::is_valid_utf8(event.text)) {
                    std::abort();  // empty deltas are never forwarded
                }
                break;
            case StreamEvent::Kind::kError:
                if (event.text.empty() || event.text.size() > kMaxErrorText ||
                    !ragd::core::is_valid_utf8(event.text)) {
                    std::abort();
                }
                break;
            case StreamEvent::Kind::kUsage:
                if (!event.usage.reported) {
                    std::abort();
                }
                break;
            case StreamEvent::Kind::kDone:
                break;
        }
    }
}

std::vector<StreamEvent> feed_pieces(const WireProtocol& protocol,
                                     const std::vector<std::string_view>& pieces) {
    std::unique_ptr<StreamDecoder> decoder = protocol.stream_decoder();
    std::vector<StreamEvent> events;
    for (std::string_view piece : pieces) {
        decoder->feed(piece, events);
    }
    return events;
}

void check_protocol(const WireProtocol& protocol, std::string_view body, std::size_t split) {
    const std::vector<StreamEvent> whole = feed_pieces(protocol, {body});
    check_well_formed(whole);
    const std::vector<StreamEvent> halves =
        feed_pieces(protocol, {body.substr(0, split), body.substr(split)});
    if (!same(whole, halves)) {
        std::abort();
    }
    if (body.size() <= 512) {
        std::vector<std::string_view> bytes;
        bytes.reserve(body.size());
        for (std::size_t byte_idx = 0; byte_idx < body.size(); ++byte_idx) {
            bytes.push_back(body.substr(byte_idx, 1));
        }
        if (!same(whole, feed_pieces(protocol, bytes))) {
            std::abort();
        }
    }
}

void check_completion(const WireProtocol& protocol, std::string_view body) {
    const auto completion = protocol.parse_completion(body);
    if (!completion) {
        if (completion.error().code != ragd::core::ErrorCode::kCorrupt ||
            completion.error().detail.empty()) {
            std::abort();
        }
        return;
    }
    if (!ragd::core::is_valid_utf8(completion->text) ||
        !ragd::core::is_valid_utf8(completion->finish_reason)) {
        std::abort();
    }
}

/// A rerank answer's scores pick the passages an answer is built from: in range, unique,
/// finite, best first; or kCorrupt with a reason.
void check_rerank(std::string_view dialect, std::string_view body, std::size_t documents) {
    const auto scores = ragd::llm::parse_rerank_response(dialect, body, documents);
    if (!scores) {
        if (scores.error().code != ragd::core::ErrorCode::kCorrupt ||
            scores.error().detail.empty()) {
            std::abort();
        }
        return;
    }
    std::vector<bool> seen(documents, false);
    for (std::size_t idx = 0; idx < scores->size(); ++idx) {
        const auto& score = (*scores)[idx];
        if (score.index >= documents || seen[score.index] || !std::isfinite(score.score) ||
            (idx > 0 && (*scores)[idx - 1].score < score.score)) {
            std::abort();
        }
        seen[score.index] = true;
    }
}

/// An embeddings answer goes into the vector index: one vector per input, each of the asked
/// length, finite and unit length (or all zero); or kCorrupt with a reason.
void check_embeddings(std::string_view body, std::size_t inputs, std::size_t dimensions) {
    const auto vectors = ragd::embed::parse_embeddings_response(body, inputs, dimensions);
    if (!vectors) {
        if (vectors.error().code != ragd::core::ErrorCode::kCorrupt ||
            vectors.error().detail.empty()) {
            std::abort();
        }
        return;
    }
    if (vectors->size() != inputs) {
        std::abort();
    }
    for (const auto& vector : *vectors) {
        double norm = 0;
        if (vector.size() != dimensions) {
            std::abort();
        }
        for (float component : vector) {
            if (!std::isfinite(component)) {
                std::abort();
            }
            norm += static_cast<double>(component) * component;
        }
        if (norm != 0 && std::fabs(norm - 1.0) > 1e-3) {
            std::abort();
        }
    }
}

void check_error_detail(std::string_view body) {
    const std::string detail = WireProtocol::error_detail(body);
    if (detail.size() > kMaxErrorText || !ragd::core::is_valid_utf8(detail)) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::size_t split_seed = (static_cast<std::size_t>(data[0]) << 8U) | data[1];
    const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
    const std::size_t split = split_seed % (body.size() + 1);

    static const std::unique_ptr<WireProtocol> openai = ragd::llm::make_openai_protocol();
    static const std::unique_ptr<WireProtocol> anthropic = ragd::llm::make_anthropic_protocol();
    check_protocol(*openai, body, split);
    check_protocol(*anthropic, body, split);
    static const std::unique_ptr<WireProtocol> bedrock = ragd::llm::make_bedrock_protocol();
    const std::string framed = ragd::fuzz::fix_event_stream(body);
    check_protocol(*bedrock, framed, split % (framed.size() + 1));
    check_completion(*openai, body);
    check_completion(*anthropic, body);
    check_completion(*bedrock, body);
    check_error_detail(body);
    check_rerank("cohere", body, split_seed % 64);
    check_rerank("tei", body, split_seed % 64);
    check_embeddings(body, split_seed % 8, 1 + (split_seed >> 3) % 8);
    return 0;
}
