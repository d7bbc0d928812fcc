// Extractive answering: rank passage sentences by weighted term overlap with the question and
// stitch the best few together with citations. No model, no randomness: same input, same answer.
#include "llm/extractive_generator.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "llm/sentence_splitter.hpp"
#include "llm/text_terms.hpp"

namespace ragd::llm {

namespace {

/// Sentences scoring below this fraction of the best one are left out even when there is room:
/// a sentence sharing only a common word with the question reads as noise next to the answer.
constexpr double kMinRelativeScore = 0.25;
/// Two sentences whose term sets overlap this much (Jaccard) say the same thing.
constexpr double kDuplicateJaccard = 0.8;
/// Each later passage's sentences weigh this much less (rank r gets 1 / (1 + r * k)).
constexpr double kRankDecay = 0.08;

struct Candidate {
    std::size_t passage_idx = 0;  // position in the request: 0 = best passage
    std::size_t position = 0;     // sentence index within the passage
    Sentence sentence;
    std::vector<std::string> terms;  // stemmed content terms, in order
    std::set<std::string> term_set;
    std::size_t word_count = 0;
    double score = 0.0;
};

double jaccard(const std::set<std::string>& a, const std::set<std::string>& b) {
    if (a.empty() && b.empty()) {
        return 1.0;
    }
    std::size_t shared = 0;
    for (const auto& term : a) {
        shared += b.count(term);
    }
    return static_cast<double>(shared) / static_cast<double>(a.size() + b.size() - shared);
}

double shape_factor(const Candidate& c) {
    double factor = 1.0;
    if (c.word_count < 5) {
        factor *= 0.75;
    } else if (c.word_count > 50) {
        factor *= 0.85;
    }
    switch (c.sentence.kind) {
        case SentenceKind::kCode:
            factor *= 0.6;
            break;
        case SentenceKind::kTable:
            factor *= 0.7;
            break;
        case SentenceKind::kListItem:
            factor *= 0.95;
            break;
        case SentenceKind::kProse:
            break;
    }
    // An FAQ line restating the question matches it best and answers it least.
    if (!c.sentence.text.empty() && c.sentence.text.back() == '?') {
        factor *= 0.5;
    }
    return factor;
}

/// Rough token estimate for max_tokens: about four bytes of English per token.
std::size_t approx_tokens(const std::string& text) {
    return (text.size() + 3) / 4 + 2;
}

}  // namespace

ExtractiveGenerator::ExtractiveGenerator(std::size_t max_sentences)
    : max_sentences_(std::max<std::size_t>(max_sentences, 1)) {}

std::string ExtractiveGenerator::name() const {
    return "extractive";
}

core::Result<Generation> ExtractiveGenerator::generate(const GenerationRequest& request) const {
    if (std::all_of(request.question.begin(), request.question.end(), [](char c) {
            return c == ' ' || c == '\t' || c == '\n' || c == '\r';
        })) {
        return core::fail(core::ErrorCode::kInvalidArgument, "question must not be empty");
    }
    for (const Passage& passage : request.passages) {
        if (passage.number == 0) {
            return core::fail(
                core::ErrorCode::kInvalidArgument,
                "passage numbers are 1-based; got 0 for document '" + passage.document_id + "'");
        }
    }
    Generation none{kNoAnswerText, name(), {}};

    // Question terms; a question made only of stop words ("what is it?") falls back to them.
    std::vector<std::string> question_terms = content_terms(request.question);
    if (question_terms.empty()) {
        for (const std::string& word : tokenize(request.question)) {
            question_terms.push_back(stem(word));
        }
    }
    std::sort(question_terms.begin(), question_terms.end());
    question_terms.erase(std::unique(question_terms.begin(), question_terms.end()),
                         question_terms.end());
    if (question_terms.empty() || request.passages.empty()) {
        return none;
    }
    const std::vector<std::string> question_sequence = content_terms(request.question);

    std::vector<Candidate> candidates;
    for (std::size_t passage_idx = 0; passage_idx < request.passages.size(); ++passage_idx) {
        std::size_t position = 0;
        for (Sentence& sentence : split_sentences(request.passages[passage_idx].text)) {
            Candidate c;
            c.passage_idx = passage_idx;
            c.position = position++;
            c.word_count = tokenize(sentence.text).size();
            for (const std::string& word : tokenize(sentence.text)) {
                // Stop words are kept only if the question is made of them (see above).
                if (!is_stopword(word) ||
                    std::binary_search(question_terms.begin(), question_terms.end(), stem(word))) {
                    c.terms.push_back(stem(word));
                }
            }
            c.term_set.insert(c.terms.begin(), c.terms.end());
            c.sentence = std::move(sentence);
            candidates.push_back(std::move(c));
        }
    }
    if (candidates.empty()) {
        return none;
    }

    // IDF over the sentences at hand: a term in every sentence tells them apart by nothing.
    std::map<std::string, std::size_t> document_frequency;
    for (const Candidate& c : candidates) {
        for (const std::string& term : c.term_set) {
            ++document_frequency[term];
        }
    }
    const auto n = static_cast<double>(candidates.size());
    auto idf = [&](const std::string& term) {
        auto it = document_frequency.find(term);
        const double df = it == document_frequency.end() ? 0.0 : static_cast<double>(it->second);
        return std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    };
    double question_weight = 0.0;
    for (const std::string& term : question_terms) {
        question_weight += idf(term);
    }

    for (Candidate& c : candidates) {
        double matched = 0.0;
        for (const std::string& term : question_terms) {
            if (c.term_set.count(term) > 0) {
                matched += idf(term);
            }
        }
        if (matched <= 0.0) {
            continue;
        }
        // Question phrases kept in order ("circuit breaker") are worth a little more.
        std::size_t phrase_hits = 0;
        for (std::size_t q = 0; q + 1 < question_sequence.size(); ++q) {
            for (std::size_t t = 0; t + 1 < c.terms.size(); ++t) {
                if (c.terms[t] == question_sequence[q] &&
                    c.terms[t + 1] == question_sequence[q + 1]) {
                    ++phrase_hits;
                    break;
                }
            }
        }
        const double coverage = matched / question_weight;
        const double phrase =
            1.0 + 0.15 * static_cast<double>(std::min<std::size_t>(phrase_hits, 2));
        const double rank = 1.0 / (1.0 + kRankDecay * static_cast<double>(c.passage_idx));
        c.score = coverage * phrase * rank * shape_factor(c);
    }

    std::vector<const Candidate*> ranked;
    for (const Candidate& c : candidates) {
        if (c.score > 0.0) {
            ranked.push_back(&c);
        }
    }
    if (ranked.empty()) {
        return none;
    }
    std::stable_sort(ranked.begin(), ranked.end(), [](const Candidate* a, const Candidate* b) {
        return a->score > b->score;  // ties keep passage then position order
    });

    std::vector<const Candidate*> chosen;
    std::size_t tokens = 0;
    const double best = ranked.front()->score;
    for (const Candidate* c : ranked) {
        if (chosen.size() == max_sentences_ || c->score < best * kMinRelativeScore) {
            break;
        }
        const bool duplicate = std::any_of(chosen.begin(), chosen.end(), [&](const Candidate* k) {
            return k->sentence.text == c->sentence.text ||
                   jaccard(k->term_set, c->term_set) >= kDuplicateJaccard;
        });
        if (duplicate) {
            continue;
        }
        const std::size_t cost = approx_tokens(c->sentence.text);
        if (!chosen.empty() && tokens + cost > request.max_tokens) {
            continue;  // a shorter, lower-ranked sentence may still fit
        }
        tokens += cost;
        chosen.push_back(c);
    }
    std::sort(chosen.begin(), chosen.end(), [](const Candidate* a, const Candidate* b) {
        return std::tie(a->passage_idx, a->position) < std::tie(b->passage_idx, b->position);
    });

    Generation out;
    out.generator = name();
    for (const Candidate* c : chosen) {
        const std::size_t number = request.passages[c->passage_idx].number;
        if (!out.text.empty()) {
            out.text.push_back(' ');
        }
        out.text += c->sentence.text + " [" + std::to_string(number) + "]";
        if (std::find(out.cited.begin(), out.cited.end(), number) == out.cited.end()) {
            out.cited.push_back(number);
        }
    }
    return out;
}

}  // namespace ragd::llm
