// libFuzzer harness for the AWS event stream parser (Bedrock's ConverseStream answers arrive in
// it). The input, after two bytes choosing a split point, has its lengths and CRCs fixed up
// (event_stream_fixup.hpp) so that headers and payloads are explored. Fed whole, split in two and
// byte by byte, it must give the same messages and the same failure; a message's payload and
// headers must fit in the bytes that carried it; a failed parser must stay failed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "event_stream_fixup.hpp"
#include "http/aws_event_stream.hpp"

namespace {

using ragd::http::EventStreamMessage;
using ragd::http::EventStreamParser;

struct Outcome {
    std::vector<EventStreamMessage> messages;
    bool failed = false;
    std::string error;
};

Outcome parse(const std::vector<std::string_view>& pieces) {
    EventStreamParser parser;
    Outcome outcome;
    for (std::string_view piece : pieces) {
        parser.feed(piece, outcome.messages);
    }
    outcome.failed = parser.failed();
    outcome.error = parser.error();
    if (outcome.failed) {
        const std::size_t before = outcome.messages.size();
        std::string empty_message;
        ragd::http::append_event_stream_message(empty_message, {}, "");
        parser.feed(empty_message, outcome.messages);
        if (outcome.messages.size() != before || outcome.error.empty()) {
            std::abort();
        }
    }
    return outcome;
}

bool same(const Outcome& a, const Outcome& b) {
    if (a.failed != b.failed || a.error != b.error || a.messages.size() != b.messages.size()) {
        return false;
    }
    for (std::size_t idx = 0; idx < a.messages.size(); ++idx) {
        if (a.messages[idx].headers != b.messages[idx].headers ||
            a.messages[idx].payload != b.messages[idx].payload) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::size_t split_seed = (static_cast<std::size_t>(data[0]) << 8U) | data[1];
    const std::string body = ragd::fuzz::fix_event_stream(
        std::string_view(reinterpret_cast<const char*>(data + 2), size - 2));
    const std::string_view view(body);
    const std::size_t split = split_seed % (body.size() + 1);

    const Outcome whole = parse({view});
    std::size_t carried = 0;
    for (const EventStreamMessage& message : whole.messages) {
        carried += 16 + message.payload.size();
        for (const auto& [name, value] : message.headers) {
            carried += name.size() + value.size() + 4;
        }
    }
    if (carried > body.size()) {
        std::abort();
    }
    if (!same(whole, parse({view.substr(0, split), view.substr(split)}))) {
        std::abort();
    }
    if (body.size() <= 1024) {
        std::vector<std::string_view> bytes;
        for (std::size_t idx = 0; idx < body.size(); ++idx) {
            bytes.push_back(view.substr(idx, 1));
        }
        if (!same(whole, parse(bytes))) {
            std::abort();
        }
    }
    return 0;
}
