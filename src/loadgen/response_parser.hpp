// A lean incremental HTTP/1.1 response parser for the load generator: it frames responses
// (Content-Length, chunked, or read-until-close), notes the first SSE `data:` line, and keeps
// no body, so a connection costs a few hundred bytes however large its responses are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ragd::loadgen {

class ResponseParser {
public:
    enum class State { kHead, kBody, kComplete, kError };

    /// Largest response head accepted (status line and headers), in bytes.
    static constexpr std::size_t kMaxHeadBytes = std::size_t{64} * 1024;

    /// Prepares for the next response; `head_request` means no body follows whatever the
    /// headers say (the request was HEAD). Keeps allocated capacity.
    void reset(bool head_request = false);

    /// Consumes bytes of the current response and returns how many it used: all of `data`
    /// unless the response completed (or failed) inside it. Bytes after a complete response
    /// belong to no request (ragd bench does not pipeline). Interim 1xx responses are skipped.
    std::size_t feed(std::string_view data);

    /// The peer closed the connection: completes a body delimited by the close, otherwise fails.
    void finish_on_eof();

    State state() const { return state_; }
    bool complete() const { return state_ == State::kComplete; }
    bool failed() const { return state_ == State::kError; }
    /// Why the response failed to parse (empty unless failed()).
    const std::string& error() const { return error_; }

    /// Status code of the final response; 0 until its head is parsed.
    int status() const { return status_; }
    /// False when the server said Connection: close, spoke HTTP/1.0 without keep-alive, or
    /// delimited the body by closing.
    bool keep_alive() const { return keep_alive_; }
    /// Content-Type is text/event-stream.
    bool event_stream() const { return event_stream_; }
    /// Decoded body bytes so far (chunk framing excluded).
    std::uint64_t body_bytes() const { return body_bytes_; }
    /// An event-stream body contained a line starting with "data:".
    bool saw_sse_data() const { return saw_sse_data_; }

private:
    enum class Framing { kNone, kLength, kChunked, kUntilClose };
    enum class ChunkState {
        kSize,
        kExtension,
        kSizeLf,
        kData,
        kDataCr,
        kDataLf,
        kTrailerLineStart,
        kTrailerLine,
        kTrailerLineLf,
        kTrailerEndLf,
    };

    std::size_t feed_head(std::string_view data);
    bool parse_head();
    bool parse_header_line(std::string_view line);
    std::size_t feed_chunked(std::string_view data);
    void on_body(std::string_view bytes);
    void fail(std::string reason);

    State state_ = State::kHead;
    std::string head_;
    std::string error_;
    bool head_request_ = false;
    int status_ = 0;
    bool keep_alive_ = true;
    bool http10_ = false;
    bool event_stream_ = false;
    bool saw_sse_data_ = false;
    bool has_length_ = false;
    bool chunked_ = false;
    bool other_encoding_ = false;
    Framing framing_ = Framing::kNone;
    std::uint64_t content_length_ = 0;
    std::uint64_t remaining_ = 0;
    std::uint64_t body_bytes_ = 0;
    ChunkState chunk_state_ = ChunkState::kSize;
    bool chunk_size_digits_ = false;
    // Position in "data:" matched at the start of the current body line; -1 when not at one.
    int sse_match_ = 0;
};

}  // namespace ragd::loadgen
