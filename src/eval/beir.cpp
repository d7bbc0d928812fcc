// BEIR file parsing: JSONL read line by line (the corpus can be gigabytes) and the qrels TSV.
// Every error names the file and the 1-based line so a broken export is quick to fix.
#include "eval/beir.hpp"

#include <charconv>
#include <fstream>
#include <string_view>

#include <boost/json.hpp>

namespace ragd::eval {
namespace {

using core::ErrorCode;

core::Error line_error(const std::string& path, std::size_t line_no, const std::string& reason) {
    return core::fail(ErrorCode::kInvalidArgument,
                      path + " line " + std::to_string(line_no) + ": " + reason);
}

/// Reads a text file line by line with CR, BOM and blank-line handling shared by all loaders.
class LineReader {
public:
    explicit LineReader(const std::string& path) : in_(path, std::ios::binary) {}
    bool is_open() const { return in_.is_open(); }
    bool bad() const { return in_.bad(); }

    /// Next non-blank line (CR and a leading BOM stripped); false at end of file.
    bool next(std::string_view& line) {
        while (std::getline(in_, buffer_)) {
            ++line_no_;
            std::string_view view = buffer_;
            if (line_no_ == 1 && view.starts_with("\xEF\xBB\xBF"))
                view.remove_prefix(3);
            if (!view.empty() && view.back() == '\r')
                view.remove_suffix(1);
            if (view.find_first_not_of(" \t") == std::string_view::npos)
                continue;
            line = view;
            return true;
        }
        return false;
    }
    std::size_t line_no() const { return line_no_; }

private:
    std::ifstream in_;
    std::string buffer_;
    std::size_t line_no_ = 0;
};

core::Error open_error(const std::string& path) {
    return core::fail(ErrorCode::kIo, "cannot open '" + path + "' for reading");
}

/// The object on one JSONL line, or an error naming the line.
core::Result<boost::json::object> parse_object_line(std::string_view line,
                                                    const std::string& path,
                                                    std::size_t line_no) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(line, ec);
    if (ec)
        return line_error(path, line_no, "invalid JSON (" + ec.message() + ")");
    if (!value.is_object())
        return line_error(path, line_no, "expected a JSON object");
    return std::move(value.as_object());
}

/// `_id` may be a string or an integer (some BEIR exports write numeric ids).
core::Result<std::string> id_field(const boost::json::object& object,
                                   const std::string& path,
                                   std::size_t line_no) {
    const boost::json::value* id = object.if_contains("_id");
    if (id == nullptr)
        return line_error(path, line_no, "missing field '_id'");
    if (id->is_string()) {
        if (id->as_string().empty())
            return line_error(path, line_no, "field '_id' is empty");
        return std::string(id->as_string());
    }
    if (id->is_int64())
        return std::to_string(id->as_int64());
    if (id->is_uint64())
        return std::to_string(id->as_uint64());
    return line_error(path, line_no, "field '_id' must be a string or an integer");
}

/// A string field; `required` fields must exist, optional ones may be absent or null.
core::Result<std::string> string_field(const boost::json::object& object,
                                       std::string_view name,
                                       bool required,
                                       const std::string& path,
                                       std::size_t line_no) {
    const boost::json::value* field = object.if_contains(name);
    if (field == nullptr || field->is_null()) {
        if (required)
            return line_error(path, line_no, "missing field '" + std::string(name) + "'");
        return std::string();
    }
    if (!field->is_string()) {
        return line_error(path, line_no, "field '" + std::string(name) + "' must be a string");
    }
    return std::string(field->as_string());
}

}  // namespace

core::Result<void> for_each_corpus_document(
    const std::string& path, const std::function<core::Result<void>(BeirDocument&&)>& visit) {
    LineReader reader(path);
    if (!reader.is_open())
        return open_error(path);
    std::string_view line;
    while (reader.next(line)) {
        auto object = parse_object_line(line, path, reader.line_no());
        if (!object)
            return object.error();
        BeirDocument document;
        auto id = id_field(*object, path, reader.line_no());
        if (!id)
            return id.error();
        auto title = string_field(*object, "title", false, path, reader.line_no());
        if (!title)
            return title.error();
        auto text = string_field(*object, "text", true, path, reader.line_no());
        if (!text)
            return text.error();
        document.id = std::move(*id);
        document.title = std::move(*title);
        document.text = std::move(*text);
        if (auto visited = visit(std::move(document)); !visited)
            return visited.error();
    }
    if (reader.bad())
        return core::fail(ErrorCode::kIo, "read error in '" + path + "'");
    return {};
}

core::Result<std::vector<BeirQuery>> load_queries(const std::string& path) {
    LineReader reader(path);
    if (!reader.is_open())
        return open_error(path);
    std::vector<BeirQuery> queries;
    std::map<std::string, std::size_t> line_of_id;
    std::string_view line;
    while (reader.next(line)) {
        auto object = parse_object_line(line, path, reader.line_no());
        if (!object)
            return object.error();
        auto id = id_field(*object, path, reader.line_no());
        if (!id)
            return id.error();
        auto text = string_field(*object, "text", true, path, reader.line_no());
        if (!text)
            return text.error();
        auto [it, inserted] = line_of_id.emplace(*id, reader.line_no());
        if (!inserted) {
            return line_error(path,
                              reader.line_no(),
                              "duplicate query id '" + *id + "' (first on line " +
                                  std::to_string(it->second) + ")");
        }
        queries.push_back(BeirQuery{std::move(*id), std::move(*text)});
    }
    if (reader.bad())
        return core::fail(ErrorCode::kIo, "read error in '" + path + "'");
    return queries;
}

core::Result<Qrels> load_qrels(const std::string& path) {
    LineReader reader(path);
    if (!reader.is_open())
        return open_error(path);
    Qrels qrels;
    std::string_view line;
    bool first = true;
    while (reader.next(line)) {
        // BEIR separates with tabs; fall back to runs of spaces for hand-written files.
        std::vector<std::string_view> fields;
        const bool tabs = line.find('\t') != std::string_view::npos;
        std::size_t pos = 0;
        while (pos <= line.size()) {
            std::size_t end = tabs ? line.find('\t', pos) : line.find(' ', pos);
            if (end == std::string_view::npos)
                end = line.size();
            std::string_view field = line.substr(pos, end - pos);
            if (tabs || !field.empty())
                fields.push_back(field);
            pos = end + 1;
        }
        const bool is_first = first;
        first = false;
        if (fields.size() != 3) {
            return line_error(path,
                              reader.line_no(),
                              "expected 3 fields 'query-id corpus-id score', found " +
                                  std::to_string(fields.size()));
        }
        int grade = 0;
        std::string_view score = fields[2];
        if (!score.empty() && score.front() == '+')
            score.remove_prefix(1);
        auto [end, ec] = std::from_chars(score.data(), score.data() + score.size(), grade);
        if (ec != std::errc() || end != score.data() + score.size()) {
            if (is_first)
                continue;  // the header line `query-id corpus-id score`
            return line_error(
                path, reader.line_no(), "score '" + std::string(fields[2]) + "' is not an integer");
        }
        if (fields[0].empty() || fields[1].empty()) {
            return line_error(path, reader.line_no(), "empty query id or corpus id");
        }
        qrels[std::string(fields[0])][std::string(fields[1])] = grade;
    }
    if (reader.bad())
        return core::fail(ErrorCode::kIo, "read error in '" + path + "'");
    return qrels;
}

}  // namespace ragd::eval
