// What each LLM dialect costs ragd per relayed token and per request, outside the network:
//   stream/{openai,anthropic,bedrock}: decoding a 64-token streamed answer (SSE for the first two,
//     AWS event stream with CRC checks for Bedrock), fed in one piece per token as upstreams
//     send them; items = tokens, so the per-token figure is time / items;
//   build/{openai,anthropic,bedrock_bearer,bedrock_sigv4}: building one request with a ~6 KB
//     prompt (five passages), Bedrock's with and without SigV4 signing.
// The mock's own encoders produce the streams, so the bytes are the shapes ragd meets.
//
// Usage: wire_bench [benchmark flags...]
#include <chrono>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "llm/wire_protocol.hpp"
#include "mock/wire_format.hpp"

namespace {

using ragd::llm::StreamEvent;
using ragd::llm::WireProtocol;
namespace mock = ragd::mock;

constexpr int kTokens = 64;

/// One piece per token event (and one each for the start and the finish), as they arrive.
std::vector<std::string> stream_pieces(mock::Api api) {
    const mock::ResponseIdentity identity = mock::make_identity(api, "bench-model", 1, 2, 3);
    const mock::StreamEncoder encoder(api, identity, mock::Usage{900, kTokens}, true);
    std::vector<std::string> pieces;
    pieces.emplace_back();
    encoder.append_start(pieces.back());
    for (int token_idx = 0; token_idx < kTokens; ++token_idx) {
        pieces.emplace_back();
        encoder.append_token(pieces.back(), token_idx % 7 == 0 ? " passage" : " the");
    }
    pieces.emplace_back();
    encoder.append_finish(pieces.back(), false);
    return pieces;
}

void decode_stream(benchmark::State& state, const WireProtocol& protocol, mock::Api api) {
    const std::vector<std::string> pieces = stream_pieces(api);
    std::vector<StreamEvent> events;
    for (auto _ : state) {
        auto decoder = protocol.stream_decoder();
        std::size_t deltas = 0;
        for (const std::string& piece : pieces) {
            events.clear();
            decoder->feed(piece, events);
            for (const StreamEvent& event : events) {
                deltas += event.kind == StreamEvent::Kind::kDelta ? 1 : 0;
            }
        }
        if (deltas != kTokens) {
            state.SkipWithError("wrong number of deltas");
            return;
        }
        benchmark::DoNotOptimize(deltas);
    }
    state.SetItemsProcessed(state.iterations() * kTokens);
}

ragd::llm::Prompt bench_prompt() {
    ragd::llm::Prompt prompt;
    prompt.system = "Answer from the numbered passages only and cite them as [n].";
    std::string user = "Passages:\n\n";
    for (int passage = 1; passage <= 5; ++passage) {
        user += "[" + std::to_string(passage) + "] ";
        for (int word = 0; word < 190; ++word) {
            user += word % 11 == 0 ? "PostgreSQL " : "tables ";
        }
        user += "\n\n";
    }
    user += "Question: how do I create an index concurrently?";
    prompt.messages.push_back({"user", std::move(user)});
    return prompt;
}

void build_request(benchmark::State& state,
                   const WireProtocol& protocol,
                   const ragd::llm::Endpoint& endpoint) {
    const ragd::llm::Prompt prompt = bench_prompt();
    ragd::llm::CallParams params;
    params.model = "anthropic.claude-3-haiku-20240307-v1:0";
    params.stream = true;
    for (auto _ : state) {
        params.now = std::chrono::system_clock::now();
        ragd::llm::WireRequest request = protocol.build_request(prompt, params, endpoint);
        benchmark::DoNotOptimize(request.body.data());
    }
}

const auto openai = ragd::llm::make_openai_protocol();
const auto anthropic = ragd::llm::make_anthropic_protocol();
const auto bedrock = ragd::llm::make_bedrock_protocol();

ragd::llm::Endpoint keyed() {
    ragd::llm::Endpoint endpoint;
    endpoint.api_key = "bench-key";
    return endpoint;
}

ragd::llm::Endpoint signing() {
    ragd::llm::Endpoint endpoint;
    endpoint.aws_credentials =
        ragd::http::AwsCredentialsProvider::fixed({"AKIDBENCH", "bench/secret+key", ""});
    endpoint.aws_region = "us-east-1";
    endpoint.host_header = "bedrock-runtime.us-east-1.amazonaws.com";
    return endpoint;
}

}  // namespace

BENCHMARK_CAPTURE(decode_stream, openai, *openai, mock::Api::kOpenAi);
BENCHMARK_CAPTURE(decode_stream, anthropic, *anthropic, mock::Api::kAnthropic);
BENCHMARK_CAPTURE(decode_stream, bedrock, *bedrock, mock::Api::kBedrock);
BENCHMARK_CAPTURE(build_request, openai, *openai, keyed());
BENCHMARK_CAPTURE(build_request, anthropic, *anthropic, keyed());
BENCHMARK_CAPTURE(build_request, bedrock_bearer, *bedrock, keyed());
BENCHMARK_CAPTURE(build_request, bedrock_sigv4, *bedrock, signing());

BENCHMARK_MAIN();
