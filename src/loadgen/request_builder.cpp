// Requests are assembled by appending into a reused string: no formatting library and no
// allocation per request once the connection's scratch buffer has grown to size.
#include "loadgen/request_builder.hpp"

#include <algorithm>
#include <cctype>

#include "core/json_escape.hpp"

namespace ragd::loadgen {

namespace {

constexpr std::string_view kPlaceholder = "{query}";

bool has_header(const std::vector<Header>& headers, std::string_view name) {
    return std::any_of(headers.begin(), headers.end(), [&](const Header& header) {
        return header.name.size() == name.size() &&
               std::equal(name.begin(), name.end(), header.name.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) ==
                          std::tolower(static_cast<unsigned char>(b));
               });
    });
}

}  // namespace

RequestBuilder::RequestBuilder(const BenchOptions& options) {
    head_prefix_ = options.method + " " + options.url.target + " HTTP/1.1\r\n";
    if (!has_header(options.headers, "host")) {
        head_prefix_ += "Host: " + options.url.host_header + "\r\n";
    }
    if (!has_header(options.headers, "user-agent")) {
        head_prefix_ += "User-Agent: ragd-bench\r\n";
    }
    if (!has_header(options.headers, "accept")) {
        head_prefix_ += options.stream ? "Accept: text/event-stream\r\n" : "Accept: */*\r\n";
    }
    for (const auto& header : options.headers) {
        head_prefix_ += header.name + ": " + header.value + "\r\n";
    }
    if (options.body_template) {
        if (!has_header(options.headers, "content-type")) {
            head_prefix_ += "Content-Type: application/json\r\n";
        }
        head_prefix_ += "Content-Length: ";
        std::string_view rest = *options.body_template;
        while (true) {
            const auto at = rest.find(kPlaceholder);
            body_parts_.emplace_back(rest.substr(0, at));
            if (at == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(at + kPlaceholder.size());
        }
    }
    if (constant()) {
        if (body_parts_.empty()) {
            constant_request_ = head_prefix_ + "\r\n";
        } else {
            build({}, constant_request_);
        }
    }
}

void RequestBuilder::build(std::string_view query, std::string& out) const {
    if (body_parts_.empty()) {
        out = head_prefix_;
        out += "\r\n";
        return;
    }
    // The body goes first into the tail of `out` so its length is known, then the head is
    // written in front of it by one rotate; cheaper than a second buffer per connection.
    out.clear();
    for (std::size_t idx = 0; idx < body_parts_.size(); ++idx) {
        if (idx > 0) {
            core::append_json_escaped(out, query);
        }
        out += body_parts_[idx];
    }
    const std::size_t body_size = out.size();
    out += head_prefix_;
    out += std::to_string(body_size);
    out += "\r\n\r\n";
    std::rotate(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(body_size), out.end());
}

}  // namespace ragd::loadgen
