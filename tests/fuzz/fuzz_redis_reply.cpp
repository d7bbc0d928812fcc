// libFuzzer harness for the Redis reply reader (Redis, or whatever answers on its address, sends
// these bytes). The input, after two control bytes, is what one connection receives. It is fed
// whole, in pseudo-random splits and byte by byte; every way must give the same replies and
// errors, since TCP splits replies anywhere. The reader must stop at its limits (no array over
// kMaxArrayElements is ever built) and report errors with a message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cache/redis_reply.hpp"

namespace {

using ragd::cache::RedisReply;
using ragd::cache::RedisReplyReader;
using ragd::core::ErrorCode;

/// A reply or error, flattened so runs can be compared.
void describe(const RedisReply& reply, std::string& out, std::size_t depth) {
    if (depth > 16) {
        std::abort();  // hiredis nests at most 7 deep
    }
    out += std::to_string(static_cast<int>(reply.type));
    out += ':';
    switch (reply.type) {
        case RedisReply::Type::kString:
        case RedisReply::Type::kStatus:
            out += std::to_string(reply.str.size());
            out += ':';
            out += reply.str;
            break;
        case RedisReply::Type::kInteger:
            out += std::to_string(reply.integer);
            break;
        case RedisReply::Type::kArray:
            if (reply.elements.size() > RedisReplyReader::kMaxArrayElements) {
                std::abort();
            }
            out += std::to_string(reply.elements.size());
            out += '[';
            for (const RedisReply& element : reply.elements) {
                describe(element, out, depth + 1);
                out += ',';
            }
            out += ']';
            break;
        case RedisReply::Type::kNil:
            break;
    }
}

template <class NextLength>
std::string read_all(std::string_view input, NextLength next_length) {
    RedisReplyReader reader;
    std::string out;
    std::size_t offset = 0;
    for (;;) {
        auto next = reader.next("FUZZ");
        if (!next) {
            const ErrorCode code = next.error().code;
            if ((code != ErrorCode::kIo && code != ErrorCode::kUnavailable) ||
                next.error().detail.empty()) {
                std::abort();
            }
            out += code == ErrorCode::kIo ? "io:" + next.error().detail : "unavailable";
            out += '\n';
            if (code == ErrorCode::kUnavailable) {
                return out;  // the reader is done; where it noticed may depend on the splits
            }
            continue;
        }
        if (*next) {
            describe(**next, out, 0);
            out += '\n';
            continue;
        }
        if (offset == input.size()) {
            return out;
        }
        const std::size_t piece = std::min(next_length(), input.size() - offset);
        reader.feed(input.substr(offset, piece));
        offset += piece;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    std::uint32_t split_state = (static_cast<std::uint32_t>(data[0]) << 8U) | data[1];
    const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

    const std::string whole = read_all(input, [&] { return input.size(); });
    const std::string split = read_all(input, [&] {
        split_state = split_state * 1103515245U + 12345U;
        return std::size_t{1} + (split_state >> 16U) % 61U;
    });
    if (whole != split) {
        std::abort();
    }
    if (input.size() <= 2048 && read_all(input, [] { return std::size_t{1}; }) != whole) {
        std::abort();
    }
    return 0;
}
