// The WHATWG event-stream algorithm, restated for bytes that arrive in arbitrary pieces. Every
// decision depends only on bytes already seen, so any split of a stream yields the same events;
// the fuzz target tests/fuzz/fuzz_sse.cpp checks exactly that.
#include "http/sse_parser.hpp"

namespace ragd::http {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

SseParser::SseParser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

void SseParser::feed(std::string_view bytes, std::vector<Event>& out) {
    if (failed_) {
        return;
    }
    if (!bom_checked_) {
        // One BOM may open the stream; its bytes can arrive in separate pieces.
        while (!bytes.empty() && bom_matched_ < kBom.size() &&
               bytes.front() == kBom[bom_matched_]) {
            ++bom_matched_;
            bytes.remove_prefix(1);
        }
        if (bom_matched_ == kBom.size()) {
            bom_checked_ = true;
        } else if (bytes.empty()) {
            return;  // still a possible BOM prefix
        } else {
            bom_checked_ = true;
            // Not a BOM after all: the bytes matched so far are ordinary content.
            feed_content(kBom.substr(0, bom_matched_), out);
        }
        bom_matched_ = 0;
    }
    feed_content(bytes, out);
}

void SseParser::feed_content(std::string_view bytes, std::vector<Event>& out) {
    while (!bytes.empty() && !failed_) {
        if (skip_lf_) {
            skip_lf_ = false;
            if (bytes.front() == '\n') {
                bytes.remove_prefix(1);
                continue;
            }
        }
        const std::size_t line_end = bytes.find_first_of("\r\n");
        if (in_comment_) {
            if (line_end == std::string_view::npos) {
                return;
            }
            in_comment_ = false;
            skip_lf_ = bytes[line_end] == '\r';
            bytes.remove_prefix(line_end + 1);
            continue;
        }
        if (line_.empty() && bytes.front() == ':') {
            // Comments (often keep-alive pings) are dropped as they stream by, unbuffered.
            in_comment_ = true;
            bytes.remove_prefix(1);
            continue;
        }
        if (line_end == std::string_view::npos) {
            if (!over_limit(line_.size() + bytes.size())) {
                line_.append(bytes);
            }
            return;
        }
        const std::string_view content = bytes.substr(0, line_end);
        skip_lf_ = bytes[line_end] == '\r';
        bytes.remove_prefix(line_end + 1);
        if (over_limit(line_.size() + content.size())) {
            return;
        }
        if (line_.empty()) {
            process_line(content, out);
        } else {
            line_.append(content);
            process_line(line_, out);
            line_.clear();
        }
    }
}

void SseParser::process_line(std::string_view line, std::vector<Event>& out) {
    if (line.empty()) {
        dispatch(out);
        return;
    }
    std::string_view field = line;
    std::string_view value;
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
        field = line.substr(0, colon);
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
    }
    if (field == "data") {
        data_.append(value);
        data_.push_back('\n');
    } else if (field == "event") {
        event_type_.assign(value);
    } else if (field == "id") {
        // The spec ignores ids containing NUL, so that they cannot truncate C strings.
        if (value.find('\0') == std::string_view::npos) {
            last_event_id_.assign(value);
        }
    }
    // "retry" (a reconnection delay for browsers) and unknown fields are ignored.
}

void SseParser::dispatch(std::vector<Event>& out) {
    if (data_.empty()) {
        event_type_.clear();
        return;
    }
    data_.pop_back();  // the '\n' after the last data line
    Event event;
    event.event = event_type_.empty() ? std::string("message") : std::move(event_type_);
    event.data = std::move(data_);
    event.id = last_event_id_;
    out.push_back(std::move(event));
    data_.clear();
    event_type_.clear();
}

bool SseParser::over_limit(std::size_t line_bytes) {
    // A line adds at most its own length to the buffers, so checking it before processing keeps
    // the held bytes within the limit at every point, whatever the split.
    if (data_.size() + event_type_.size() + line_bytes <= max_event_bytes_) {
        return false;
    }
    failed_ = true;
    error_ = "SSE event exceeds the limit of " + std::to_string(max_event_bytes_) + " bytes";
    line_.clear();
    line_.shrink_to_fit();
    data_.clear();
    data_.shrink_to_fit();
    event_type_.clear();
    return true;
}

bool SseParser::has_partial() const {
    return !line_.empty() || in_comment_ || !data_.empty() || !event_type_.empty() ||
           (!bom_checked_ && bom_matched_ > 0);
}

}  // namespace ragd::http
