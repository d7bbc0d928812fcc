// JSON reading shared by the wire dialects: lenient lookups into an upstream's bodies and
// events (a missing or mistyped field is "absent", never an exception), and the cut applied to
// every upstream-provided message before it reaches a client or a log.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

namespace ragd::llm::wire {

/// Upstream error messages are cut to this many bytes (plus "...").
constexpr std::size_t kErrorDetailBytes = 300;

const boost::json::value* find_path(const boost::json::value& root,
                                    std::initializer_list<std::string_view> path);
/// The string at `path`, or "".
std::string string_at(const boost::json::value& root, std::initializer_list<std::string_view> path);
/// A non-negative integer at `path`, or nullopt.
std::optional<std::size_t> count_at(const boost::json::value& root,
                                    std::initializer_list<std::string_view> path);
std::optional<boost::json::value> parse_json(std::string_view text,
                                             boost::json::storage_ptr storage = {});
/// `text` cut to `limit` bytes at a UTF-8 boundary, with "..." when cut.
std::string cut(std::string text, std::size_t limit);

/// A streamed event's JSON is parsed into a stack buffer: a relayed answer parses one event
/// per token, and heap-allocating each parse tree was a visible share of relaying's CPU.
/// The value must not outlive the EventArena it was parsed with.
/// The buffer is scratch space, written before it is read: zeroing 4 KiB per relayed token
/// would cost more than the arena saves.
// NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
class EventArena {
public:
    boost::json::storage_ptr storage() { return boost::json::storage_ptr(&resource_); }

private:
    unsigned char buffer_[4096];
    boost::json::monotonic_resource resource_{buffer_, sizeof buffer_};
};

}  // namespace ragd::llm::wire
