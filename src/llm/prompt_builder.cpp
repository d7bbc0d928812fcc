// Prompt assembly under a token budget. Costs are planned per part (system, template text,
// question, each rendered passage) and summed; estimate_tokens() is sub-additive, so the sum is an
// upper bound of the finished prompt's estimate and the prompt never exceeds the budget.
#include "llm/prompt_builder.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

namespace ragd::llm {

namespace {

constexpr std::string_view kPassagesPlaceholder = "{passages}";
constexpr std::string_view kQuestionPlaceholder = "{question}";
constexpr std::string_view kPassageSeparator = "\n\n";

bool is_continuation_byte(unsigned char byte) {
    return (byte & 0xC0) == 0x80;
}

std::size_t ceil_div4(std::size_t n) {
    return (n + 3) / 4;
}

/// The token count of a text with `ascii` ASCII bytes and `other` non-ASCII code points.
std::size_t token_cost(std::size_t ascii, std::size_t other) {
    return ceil_div4(ascii) + other;
}

/// The longest prefix of `text` that ends on a UTF-8 boundary and costs at most `max_tokens`.
std::string_view prefix_within(std::string_view text, std::size_t max_tokens) {
    std::size_t ascii = 0;
    std::size_t other = 0;
    std::size_t end = 0;
    while (end < text.size()) {
        const auto lead = static_cast<unsigned char>(text[end]);
        std::size_t length = 1;
        if (lead >= 0x80) {
            // Lead byte plus its continuation bytes; a stray continuation byte stands alone.
            while (end + length < text.size() && length < 4 &&
                   is_continuation_byte(static_cast<unsigned char>(text[end + length]))) {
                ++length;
            }
        }
        const std::size_t next_ascii = ascii + (lead < 0x80 ? 1 : 0);
        const std::size_t next_other = other + (lead < 0x80 ? 0 : 1);
        if (token_cost(next_ascii, next_other) > max_tokens) {
            break;
        }
        ascii = next_ascii;
        other = next_other;
        end += length;
    }
    return text.substr(0, end);
}

/// "[n] title — heading > path\n" (parts omitted when empty).
std::string passage_header(const Passage& passage) {
    std::string header = "[" + std::to_string(passage.number) + "]";
    if (!passage.title.empty()) {
        header += " ";
        header += passage.title;
    }
    if (!passage.heading_path.empty()) {
        header += passage.title.empty() ? " " : " — ";
        for (std::size_t heading_idx = 0; heading_idx < passage.heading_path.size();
             ++heading_idx) {
            if (heading_idx > 0) {
                header += " > ";
            }
            header += passage.heading_path[heading_idx];
        }
    }
    header += "\n";
    return header;
}

std::size_t message_cost(std::string_view content) {
    return estimate_tokens(content) + kMessageOverheadTokens;
}

/// How many bytes of `flags` have their high bit set (the only bits set): the multiply adds the
/// eight 0/1 bytes into the top byte. No popcount instruction in the baseline x86-64 target.
std::size_t count_flags(std::uint64_t flags) {
    return static_cast<std::size_t>(((flags >> 7U) * 0x0101010101010101ULL) >> 56U);
}

}  // namespace

std::size_t estimate_tokens(std::string_view text) {
    // 8 bytes at a time (every passage of every prompt passes here): a byte is ASCII when its
    // high bit is clear, and starts a non-ASCII code point when its two high bits are set.
    constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
    std::size_t high = 0;
    std::size_t other = 0;
    std::size_t pos = 0;
    for (; pos + 8 <= text.size(); pos += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, text.data() + pos, sizeof(word));
        high += count_flags(word & kHighBits);
        other += count_flags(word & (word << 1U) & kHighBits);
    }
    std::size_t ascii = pos - high;
    for (const char c : text.substr(pos)) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x80) {
            ++ascii;
        } else if (!is_continuation_byte(byte)) {
            ++other;
        }
    }
    return token_cost(ascii, other);
}

core::Result<PromptBuilder> PromptBuilder::create(PromptOptions options) {
    const std::string& tmpl = options.user_template;
    for (const auto placeholder : {kPassagesPlaceholder, kQuestionPlaceholder}) {
        const auto first = tmpl.find(placeholder);
        if (first == std::string::npos) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "llm prompt user_template must contain " + std::string(placeholder));
        }
        if (tmpl.find(placeholder, first + 1) != std::string::npos) {
            return core::fail(
                core::ErrorCode::kInvalidArgument,
                "llm prompt user_template must contain " + std::string(placeholder) + " only once");
        }
    }
    if (options.max_context_tokens == 0) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "llm prompt max_context_tokens must be positive, got 0");
    }
    return PromptBuilder(std::move(options));
}

PromptBuilder::PromptBuilder(PromptOptions options)
    : options_(std::move(options)),
      passages_at_(options_.user_template.find(kPassagesPlaceholder)),
      question_at_(options_.user_template.find(kQuestionPlaceholder)) {}

core::Result<Prompt> PromptBuilder::build(std::string_view question,
                                          const std::vector<Passage>& passages) const {
    // The template as head {first} middle {second} tail.
    const std::string_view tmpl = options_.user_template;
    const bool passages_first = passages_at_ < question_at_;
    const std::size_t first_at = passages_first ? passages_at_ : question_at_;
    const std::size_t second_at = passages_first ? question_at_ : passages_at_;
    const std::size_t first_end =
        first_at + (passages_first ? kPassagesPlaceholder : kQuestionPlaceholder).size();
    const std::size_t second_end =
        second_at + (passages_first ? kQuestionPlaceholder : kPassagesPlaceholder).size();
    const std::string_view head = tmpl.substr(0, first_at);
    const std::string_view middle = tmpl.substr(first_end, second_at - first_end);
    const std::string_view tail = tmpl.substr(second_end);

    const std::size_t budget = options_.max_context_tokens;
    const std::size_t system_tokens =
        options_.system_prompt.empty() ? 0 : message_cost(options_.system_prompt);
    const std::size_t fixed_tokens = system_tokens + kMessageOverheadTokens +
                                     estimate_tokens(head) + estimate_tokens(middle) +
                                     estimate_tokens(tail) + estimate_tokens(question);
    if (fixed_tokens + estimate_tokens(kNoPassagesText) > budget) {
        return core::fail(
            core::ErrorCode::kTooLarge,
            "the question and prompt template need about " + std::to_string(fixed_tokens) +
                " tokens, more than llm prompt max_context_tokens " + std::to_string(budget));
    }

    // Best first, whatever the input order; stable for equal numbers.
    std::vector<const Passage*> ranked;
    ranked.reserve(passages.size());
    for (const auto& passage : passages) {
        ranked.push_back(&passage);
    }
    std::stable_sort(ranked.begin(), ranked.end(), [](const Passage* a, const Passage* b) {
        return a->number < b->number;
    });

    Prompt prompt;
    std::string block;  // the rendered passages
    std::size_t used = fixed_tokens;
    for (const Passage* passage : ranked) {
        std::string rendered = passage_header(*passage) + passage->text;
        const std::size_t cost =
            estimate_tokens(rendered) + (block.empty() ? 0 : estimate_tokens(kPassageSeparator));
        if (used + cost > budget) {
            break;  // this and every lower-ranked passage are dropped
        }
        if (!block.empty()) {
            block += kPassageSeparator;
        }
        block += rendered;
        used += cost;
        prompt.included_passages.push_back(passage->number);
    }

    if (block.empty() && !ranked.empty()) {
        // Even the best passage alone is too long: cut it rather than answer from nothing.
        const Passage& best = *ranked.front();
        const std::string header = passage_header(best);
        const std::size_t frame = estimate_tokens(header) + estimate_tokens(kTruncationMark);
        if (used + frame < budget) {
            const std::string_view kept = prefix_within(best.text, budget - used - frame);
            if (!kept.empty()) {
                block = header;
                block += kept;
                block += kTruncationMark;
                prompt.included_passages.push_back(best.number);
                prompt.truncated = true;
            }
        }
    }
    if (block.empty()) {
        block = kNoPassagesText;
    }

    const std::string_view first_value = passages_first ? std::string_view(block) : question;
    const std::string_view second_value = passages_first ? question : std::string_view(block);
    std::string content;
    content.reserve(tmpl.size() + block.size() + question.size());
    content.append(head);
    content.append(first_value);
    content.append(middle);
    content.append(second_value);
    content.append(tail);

    prompt.system = options_.system_prompt;
    prompt.estimated_tokens = system_tokens + message_cost(content);
    prompt.messages.push_back(ChatMessage{"user", std::move(content)});
    return prompt;
}

}  // namespace ragd::llm
