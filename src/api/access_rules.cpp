// Tenant isolation lives here rather than in storage or retrieval: those layers already filter
// by metadata, so isolation is only a matter of which filter a caller is allowed to ask for.
#include "api/access_rules.hpp"

#include <algorithm>

#include "core/hash.hpp"
#include "llm/prompt_builder.hpp"

namespace ragd::api {
namespace {

/// Sets every pair of `forced` in `metadata` (sorted by key, unique keys), replacing values.
void force_pairs(storage::Metadata& metadata, const storage::Metadata& forced) {
    for (const auto& [key, value] : forced) {
        auto at = std::lower_bound(metadata.begin(),
                                   metadata.end(),
                                   key,
                                   [](const std::pair<std::string, std::string>& pair,
                                      const std::string& wanted) { return pair.first < wanted; });
        if (at != metadata.end() && at->first == key) {
            at->second = value;
        } else {
            metadata.insert(at, {key, value});
        }
    }
}

/// Canonical, unambiguous text of a filter (length-prefixed), for deriving ids from it.
std::string canonical(const storage::Metadata& filter) {
    std::string out;
    for (const auto& [key, value] : filter) {
        out += std::to_string(key.size()) + ":" + key + std::to_string(value.size()) + ":" + value;
    }
    return out;
}

}  // namespace

void restrict_query(const Principal& caller, pipeline::QueryOptions& options) {
    if (caller.filter().empty()) {
        return;
    }
    std::sort(options.filter.metadata.begin(), options.filter.metadata.end());
    force_pairs(options.filter.metadata, caller.filter());
}

bool may_access(const Principal& caller, const storage::Metadata& metadata) {
    return std::all_of(caller.filter().begin(), caller.filter().end(), [&](const auto& pair) {
        return std::find(metadata.begin(), metadata.end(), pair) != metadata.end();
    });
}

core::Result<void> prepare_ingest(const Principal& caller,
                                  pipeline::IngestRequest& document,
                                  storage::Storage& storage) {
    const storage::Metadata& filter = caller.filter();
    if (filter.empty()) {
        return {};
    }
    std::sort(document.metadata.begin(), document.metadata.end());
    force_pairs(document.metadata, filter);
    if (document.id.empty()) {
        // IngestService would derive the id from the source or the content alone; with the
        // filter mixed in, two tenants ingesting the same file do not collide.
        const std::string origin = document.source.empty()
                                       ? "content:" + core::sha256_hex(document.content)
                                       : "source:" + document.source;
        document.id = core::sha256_hex(canonical(filter) + "\n" + origin).substr(0, 16);
    }
    auto existing = storage.get_document(document.id);
    if (!existing) {
        return existing.error();
    }
    if (existing->has_value() && !may_access(caller, (*existing)->metadata)) {
        return core::fail(core::ErrorCode::kConflict,
                          "document id '" + document.id +
                              "' is already used by a document this API key may not access");
    }
    return {};
}

std::size_t answer_tokens(const llm::Answer& answer, const llm::AnswerRequest& request) {
    if (answer.model.empty()) {
        return 0;  // the extractive generator calls no LLM
    }
    if (answer.usage.reported) {
        return answer.usage.prompt_tokens + answer.usage.completion_tokens;
    }
    std::size_t tokens = llm::estimate_tokens(request.question) + llm::estimate_tokens(answer.text);
    for (const llm::Passage& passage : request.passages) {
        tokens += llm::estimate_tokens(passage.text);
    }
    return tokens;
}

}  // namespace ragd::api
