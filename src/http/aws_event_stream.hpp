// The AWS event stream framing (application/vnd.amazon.eventstream), which Bedrock's
// ConverseStream answers in: binary messages, each
//   total length (u32 BE) | headers length (u32 BE) | CRC32 of those 8 bytes (u32 BE)
//   | headers | payload | CRC32 of everything before it (u32 BE),
// a header being name length (u8), name, value type (u8), value. The parser sees raw bytes
// split anywhere, holds at most one message, and stops for good at the first malformed one
// (a stream whose framing is lost cannot be resynchronised). The encoder is for the mock LLM and
// tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ragd::http {

/// CRC-32 (IEEE 802.3, the zlib one) of `bytes`, continuing from `crc`.
std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0);

struct EventStreamMessage {
    /// String-valued headers (type 7), in order. Headers of other types are checked and skipped.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string payload;

    /// The value of the string header `name`, or "" when absent.
    std::string_view header(std::string_view name) const;
};

/// Appends one message with string-valued `headers` to `out`.
void append_event_stream_message(std::string& out,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string_view payload);

class EventStreamParser {
public:
    /// AWS caps a message at 16 MiB; an LLM token event is a few hundred bytes.
    static constexpr std::size_t kDefaultMaxMessageBytes = std::size_t{1} << 20;

    explicit EventStreamParser(std::size_t max_message_bytes = kDefaultMaxMessageBytes);

    /// Parses `bytes`, which continue the stream, and appends every message they complete to
    /// `out`. After a failure it does nothing.
    void feed(std::string_view bytes, std::vector<EventStreamMessage>& out);

    /// True when bytes of an unfinished message are held.
    bool has_partial() const { return !held_.empty(); }
    bool failed() const { return failed_; }
    /// Why failed() is true; empty otherwise.
    const std::string& error() const { return error_; }

private:
    /// Decodes the whole message in `bytes` (its length already checked); false on corruption.
    bool decode(std::string_view bytes, EventStreamMessage& message);
    void fail(std::string why);

    std::size_t max_message_bytes_;
    std::string held_;
    bool failed_ = false;
    std::string error_;
};

}  // namespace ragd::http
