// PDF via poppler-cpp: the text of every page, in reading order, without page numbers and
// running headers and footers, rejoined into paragraphs (pdf_text.hpp). A PDF carries no headings
// ragd can trust, so the document is one section; its title is the document information's Title,
// else the first line.
#include <algorithm>
#include <climits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include "core/utf8.hpp"
#include "ingest/parser.hpp"
#include "ingest/pdf_text.hpp"
#include "ingest/section_builder.hpp"

namespace ragd::ingest {
namespace {

constexpr std::size_t kMaxTitleBytes = 120;
constexpr std::size_t kMaxErrorBytes = 200;
// The PDF standard lets the header start anywhere in the first 1,024 bytes.
constexpr std::size_t kHeaderWindow = 1024;

// poppler reports problems through one process-wide callback (by default it prints them to
// stderr, which would interleave with ingest's own report). The callback runs on the thread
// that is parsing, so each parse collects its first message in a thread_local.
thread_local std::string* t_first_error = nullptr;

void collect_poppler_error(const std::string& message, void* /*closure*/) {
    if (t_first_error != nullptr && t_first_error->empty()) {
        std::string_view text = message;
        if (text.starts_with("error: ")) {  // poppler's own prefix; ragd's report adds its own
            text.remove_prefix(7);
        }
        *t_first_error = core::sanitize_utf8(text.substr(0, kMaxErrorBytes));
    }
}

std::string to_utf8(const poppler::ustring& text) {
    const poppler::byte_array bytes = text.to_utf8();
    return core::sanitize_utf8(std::string_view(bytes.data(), bytes.size()));
}

// A title as one line: control characters out (reflow_pdf_page's cleaning), whitespace runs
// collapsed. A PDF's Title property is arbitrary text from the file.
std::string one_clean_line(std::string_view text) {
    return collapse_whitespace(reflow_pdf_page(text));
}

std::string first_line(std::string_view text) {
    const std::size_t end = text.find('\n');
    return std::string(trim_ascii(text.substr(0, end)));
}

}  // namespace

core::Result<ParsedDocument> parse_pdf(std::string_view bytes, std::size_t max_text_bytes) {
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
        return core::fail(core::ErrorCode::kTooLarge, "PDF over 2 GiB");
    }
    if (bytes.substr(0, kHeaderWindow).find("%PDF-") == std::string_view::npos) {
        return core::fail(core::ErrorCode::kInvalidArgument, "not a PDF (no %PDF- header)");
    }
    static std::once_flag install_callback;
    std::call_once(install_callback,
                   [] { poppler::set_debug_error_function(collect_poppler_error, nullptr); });
    // One PDF at a time: poppler keeps process-wide state (its global parameters and font
    // caches), and ragd parses files one by one anyway, so this costs nothing and rules out a
    // data race inside a library the sanitizer builds do not instrument.
    static std::mutex poppler_mutex;
    std::lock_guard lock(poppler_mutex);

    std::string first_error;
    t_first_error = &first_error;
    struct ResetSink {
        ~ResetSink() { t_first_error = nullptr; }
    } reset_sink;

    std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
    if (!doc) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "damaged or unreadable PDF" +
                              (first_error.empty() ? std::string() : ": " + first_error));
    }
    if (doc->is_locked()) {
        return core::fail(core::ErrorCode::kUnsupported,
                          "encrypted PDF: it needs a password to open");
    }

    const int pages = doc->pages();
    std::vector<std::string> page_texts;
    page_texts.reserve(std::min<std::size_t>(static_cast<std::size_t>(std::max(pages, 0)), 4096));
    std::size_t text_bytes = 0;
    for (int index = 0; index < pages; ++index) {
        std::unique_ptr<poppler::page> page(doc->create_page(index));
        page_texts.push_back(page ? to_utf8(page->text()) : std::string());
        text_bytes += page_texts.back().size();
        // Compressed content streams can expand a small file into any amount of text.
        if (text_bytes > max_text_bytes) {
            return core::fail(core::ErrorCode::kTooLarge,
                              "PDF text over " + std::to_string(max_text_bytes) +
                                  " bytes by page " + std::to_string(index + 1) + " of " +
                                  std::to_string(pages));
        }
    }
    page_texts = strip_page_furniture(page_texts);

    std::string text;
    std::string first_printed_line;  // before reflowing: a title is a line of its own
    for (const std::string& raw : page_texts) {
        std::string page_text = reflow_pdf_page(raw);
        if (page_text.empty()) {
            continue;
        }
        if (text.empty()) {
            first_printed_line = first_line(trim_ascii(raw));
        } else {
            text += "\n\n";  // a page break ends a paragraph
        }
        text += page_text;
    }
    if (text.empty()) {
        return core::fail(core::ErrorCode::kUnsupported,
                          "no extractable text in " + std::to_string(pages) +
                              " page(s) (scanned images? ragd does no OCR)");
    }

    ParsedDocument parsed;
    parsed.title = one_clean_line(to_utf8(doc->get_title()));
    if (parsed.title.empty() || parsed.title.size() > kMaxTitleBytes) {
        parsed.title = one_clean_line(first_printed_line);
        if (parsed.title.size() > kMaxTitleBytes) {
            parsed.title.clear();
        }
    }
    Section section;
    section.text = std::move(text);
    section.source_end = bytes.size();  // offsets inside a PDF's compressed streams mean nothing
    parsed.sections.push_back(std::move(section));
    return parsed;
}

}  // namespace ragd::ingest
