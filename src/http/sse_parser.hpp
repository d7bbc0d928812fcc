// Incremental Server-Sent-Events parser (WHATWG HTML "event stream interpretation") for the
// streamed answers of LLM upstreams. It sees raw bytes as they arrive, split anywhere, and keeps
// at most one event's worth of them, so a hostile or broken upstream cannot grow it unbounded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::http {

class SseParser {
public:
    struct Event {
        std::string event;  ///< the last "event:" field, or "message" when there was none
        std::string data;   ///< the "data:" lines joined with '\n'
        std::string id;     ///< the last event id seen on the stream so far (it persists)

        friend bool operator==(const Event&, const Event&) = default;
    };

    static constexpr std::size_t kDefaultMaxEventBytes = std::size_t{1} << 20;

    /// `max_event_bytes` bounds the bytes held for one event: its data and event-type buffers
    /// plus the line being read (comment lines are skipped without being held).
    explicit SseParser(std::size_t max_event_bytes = kDefaultMaxEventBytes);

    /// Parses `bytes`, which continue the stream where the previous call stopped, and appends
    /// every event they complete to `out`. After a failure (see failed()) it does nothing.
    void feed(std::string_view bytes, std::vector<Event>& out);

    /// True when bytes of an unfinished event (or line) are held: a stream that ends now was
    /// cut off in the middle of an event, which the spec says to discard.
    bool has_partial() const;

    /// True once an event exceeded max_event_bytes; the stream cannot be resynchronised.
    bool failed() const { return failed_; }
    /// Why failed() is true; empty otherwise.
    const std::string& error() const { return error_; }

private:
    void feed_content(std::string_view bytes, std::vector<Event>& out);
    void process_line(std::string_view line, std::vector<Event>& out);
    void dispatch(std::vector<Event>& out);
    /// Fails when `line_bytes` more would push the held bytes over the limit.
    bool over_limit(std::size_t line_bytes);

    std::size_t max_event_bytes_;
    std::size_t bom_matched_ = 0;  ///< bytes of a leading UTF-8 BOM seen so far
    bool bom_checked_ = false;     ///< past the point where a BOM could appear
    bool skip_lf_ = false;         ///< the last line ended with CR: a following LF belongs to it
    bool in_comment_ = false;      ///< inside a ':' line, whose bytes are dropped
    std::string line_;             ///< the unfinished line
    std::string data_;             ///< data buffer, each line followed by '\n'
    std::string event_type_;
    std::string last_event_id_;
    bool failed_ = false;
    std::string error_;
};

}  // namespace ragd::http
