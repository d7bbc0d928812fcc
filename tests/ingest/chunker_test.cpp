// Chunker: size bounds, overlap, boundary preferences (paragraph, sentence, word), giant words,
// UTF-8 safety, ordinals, heading paths and source ranges.
#include "ingest/chunker.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/utf8.hpp"
#include "ingest/parser.hpp"

namespace ragd::ingest {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\t';
}

// Deterministic prose: sentences of 6–20 words, paragraphs of 2–6 sentences.
std::string make_prose(std::size_t paragraphs, std::uint32_t seed = 7) {
    static const char* kWords[] = {"retrieval", "the",    "server",    "answers", "with",
                                   "citations", "chunks", "overlap",   "a",       "document",
                                   "of",        "tokens", "model",     "quickly", "index",
                                   "and",       "search", "embedding", "vector",  "query"};
    std::uint32_t state = seed;
    auto next = [&](std::uint32_t bound) {
        state = state * 1664525u + 1013904223u;
        return (state >> 8) % bound;
    };
    std::string text;
    for (std::size_t para = 0; para < paragraphs; ++para) {
        if (para > 0) {
            text += "\n\n";
        }
        const std::uint32_t sentences = 2 + next(5);
        for (std::uint32_t sentence = 0; sentence < sentences; ++sentence) {
            if (sentence > 0) {
                text += ' ';
            }
            const std::uint32_t words = 6 + next(15);
            for (std::uint32_t word = 0; word < words; ++word) {
                if (word > 0) {
                    text += next(10) == 0 ? ", " : " ";
                }
                std::string w = kWords[next(20)];
                if (word == 0) {
                    w[0] = static_cast<char>(w[0] - 'a' + 'A');
                }
                text += w;
            }
            text += '.';
        }
    }
    return text;
}

ParsedDocument as_text(const std::string& source) {
    auto doc = parse_text(source);
    EXPECT_TRUE(doc.has_value());
    return doc ? std::move(*doc) : ParsedDocument{};
}

// For plain text, chunk source ranges are exact: check text, word boundaries and coverage.
void expect_exact_word_aligned(const std::string& source, const std::vector<ChunkDraft>& chunks) {
    std::vector<bool> covered(source.size(), false);
    for (const ChunkDraft& chunk : chunks) {
        ASSERT_LE(chunk.source_begin, chunk.source_end);
        ASSERT_LE(chunk.source_end, source.size());
        EXPECT_EQ(source.substr(chunk.source_begin, chunk.source_end - chunk.source_begin),
                  chunk.text)
            << "ordinal " << chunk.ordinal;
        EXPECT_TRUE(chunk.source_begin == 0 || is_space(source[chunk.source_begin - 1]))
            << "chunk " << chunk.ordinal << " starts inside a word";
        EXPECT_TRUE(chunk.source_end == source.size() || is_space(source[chunk.source_end]))
            << "chunk " << chunk.ordinal << " ends inside a word";
        for (std::uint64_t pos = chunk.source_begin; pos < chunk.source_end; ++pos) {
            covered[pos] = true;
        }
    }
    for (std::size_t pos = 0; pos < source.size(); ++pos) {
        if (!is_space(source[pos])) {
            ASSERT_TRUE(covered[pos]) << "byte " << pos << " is in no chunk";
        }
    }
}

TEST(ApproximateTokensTest, CountsWordsAndPunctuationRuns) {
    EXPECT_EQ(approximate_tokens(""), 0u);
    EXPECT_EQ(approximate_tokens("   \n\t "), 0u);
    EXPECT_EQ(approximate_tokens("Hello, world."), 4u);
    EXPECT_EQ(approximate_tokens("a...b"), 3u);
    EXPECT_EQ(approximate_tokens("internationalization"), 4u);  // 20 bytes, 6 per token
    EXPECT_EQ(approximate_tokens("abcdef"), 1u);
    EXPECT_EQ(approximate_tokens("abcdefg"), 2u);
    const std::string prose = make_prose(50);
    std::size_t words = 0;
    for (std::size_t pos = 0; pos < prose.size(); ++pos) {
        if (!is_space(prose[pos]) && (pos == 0 || is_space(prose[pos - 1]))) {
            ++words;
        }
    }
    const double ratio =
        static_cast<double>(approximate_tokens(prose)) / static_cast<double>(words);
    EXPECT_GT(ratio, 1.1);
    EXPECT_LT(ratio, 1.6);
}

TEST(ChunkerTest, EmptyDocumentsYieldNoChunks) {
    EXPECT_TRUE(chunk_document(ParsedDocument{}, {}).empty());
    ParsedDocument doc;
    doc.sections.push_back(Section{{"Empty"}, "", 0, 0, {}});
    doc.sections.push_back(Section{{"Blank"}, "  \n\n \t", 0, 0, {}});
    EXPECT_TRUE(chunk_document(doc, {}).empty());
    EXPECT_TRUE(chunk_document(as_text(""), {}).empty());
}

TEST(ChunkerTest, ShortSectionIsOneChunk) {
    const std::string source = "Just a short note.";
    const auto chunks = chunk_document(as_text(source), {});
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_EQ(chunks[0].text, source);
    EXPECT_EQ(chunks[0].ordinal, 0u);
    EXPECT_EQ(chunks[0].source_begin, 0u);
    EXPECT_EQ(chunks[0].source_end, source.size());
}

TEST(ChunkerTest, SizesStayWithinBounds) {
    const std::string source = make_prose(200);
    for (const std::size_t target : {40u, 100u, 300u}) {
        ChunkerOptions options;
        options.chunk_tokens = target;
        const auto chunks = chunk_document(as_text(source), options);
        ASSERT_GT(chunks.size(), 3u);
        for (std::size_t idx = 0; idx < chunks.size(); ++idx) {
            const std::size_t tokens = approximate_tokens(chunks[idx].text);
            EXPECT_LE(tokens, target * 5 / 4) << "target " << target << " chunk " << idx;
            if (idx + 1 < chunks.size()) {
                EXPECT_GE(tokens, target / 2) << "target " << target << " chunk " << idx;
            }
            EXPECT_EQ(chunks[idx].ordinal, idx);
        }
        expect_exact_word_aligned(source, chunks);
    }
}

TEST(ChunkerTest, ConsecutiveChunksOverlap) {
    const std::string source = make_prose(100);
    ChunkerOptions options;
    options.chunk_tokens = 120;
    options.overlap = 0.2;
    const auto chunks = chunk_document(as_text(source), options);
    ASSERT_GT(chunks.size(), 3u);
    for (std::size_t idx = 1; idx < chunks.size(); ++idx) {
        const ChunkDraft& prev = chunks[idx - 1];
        const ChunkDraft& next = chunks[idx];
        ASSERT_LT(next.source_begin, prev.source_end) << "no overlap before chunk " << idx;
        ASSERT_GT(next.source_end, prev.source_end) << "chunk " << idx << " adds nothing";
        const std::string shared =
            source.substr(next.source_begin, prev.source_end - next.source_begin);
        const std::size_t shared_tokens = approximate_tokens(shared);
        EXPECT_GE(shared_tokens, 1u);
        EXPECT_LE(shared_tokens, 24u);  // 0.2 * 120
        // The overlap is text, not a coincidence of offsets.
        EXPECT_EQ(next.text.substr(0, shared.size()), shared);
        EXPECT_EQ(prev.text.substr(prev.text.size() - shared.size()), shared);
    }
    expect_exact_word_aligned(source, chunks);

    options.overlap = 0.0;
    const auto disjoint = chunk_document(as_text(source), options);
    for (std::size_t idx = 1; idx < disjoint.size(); ++idx) {
        EXPECT_GE(disjoint[idx].source_begin, disjoint[idx - 1].source_end);
    }
}

TEST(ChunkerTest, PrefersParagraphBoundaries) {
    // Paragraphs of ~60 tokens; a 150-token target fits two, so every cut is at a paragraph.
    std::string source;
    for (int para = 0; para < 20; ++para) {
        if (para > 0) {
            source += "\n\n";
        }
        for (int sentence = 0; sentence < 5; ++sentence) {
            source += "Paragraph " + std::to_string(para) + " has ten words in this sentence. ";
        }
        source.pop_back();
    }
    ChunkerOptions options;
    options.chunk_tokens = 150;
    options.overlap = 0.0;
    const auto chunks = chunk_document(as_text(source), options);
    ASSERT_GT(chunks.size(), 3u);
    for (std::size_t idx = 0; idx + 1 < chunks.size(); ++idx) {
        EXPECT_EQ(source.substr(chunks[idx].source_end, 2), "\n\n") << "chunk " << idx;
    }
    expect_exact_word_aligned(source, chunks);
}

TEST(ChunkerTest, PrefersSentenceBoundariesAndRespectsAbbreviations) {
    // One long paragraph; abbreviations and decimals must not be mistaken for sentence ends.
    std::string source;
    for (int sentence = 0; sentence < 60; ++sentence) {
        source += "Dr. Smith measured pi as 3.14 in trial " + std::to_string(sentence) +
                  ", e.g. with rulers, i.e. by hand, as Fig. 2 shows. ";
    }
    source.pop_back();
    ChunkerOptions options;
    options.chunk_tokens = 100;
    options.overlap = 0.4;  // 40 tokens: room for one whole ~33-token sentence
    const auto chunks = chunk_document(as_text(source), options);
    ASSERT_GT(chunks.size(), 3u);
    for (std::size_t idx = 0; idx < chunks.size(); ++idx) {
        const std::string& text = chunks[idx].text;
        EXPECT_TRUE(text.ends_with("shows."))
            << "chunk " << idx << " ends: " << text.substr(text.size() - 20);
        if (idx > 0) {
            // Overlap starts at a sentence start too.
            EXPECT_TRUE(text.starts_with("Dr. Smith"))
                << "chunk " << idx << ": " << text.substr(0, 20);
        }
    }
    expect_exact_word_aligned(source, chunks);
}

TEST(ChunkerTest, FallsBackToWordBoundaries) {
    // No sentence or line breaks at all: cuts land between words.
    std::string source;
    for (int word = 0; word < 2000; ++word) {
        source += "word" + std::to_string(word % 10) + " ";
    }
    source.pop_back();
    ChunkerOptions options;
    options.chunk_tokens = 64;
    const auto chunks = chunk_document(as_text(source), options);
    ASSERT_GT(chunks.size(), 10u);
    for (const ChunkDraft& chunk : chunks) {
        EXPECT_LE(approximate_tokens(chunk.text), 80u);
    }
    expect_exact_word_aligned(source, chunks);
}

TEST(ChunkerTest, SmallTailIsMergedIntoThePreviousChunk) {
    std::string source;
    for (int word = 0; word < 110; ++word) {
        source += "word ";
    }
    ChunkerOptions options;
    options.chunk_tokens = 100;
    options.overlap = 0.0;
    const auto chunks = chunk_document(as_text(source), options);
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_EQ(approximate_tokens(chunks[0].text), 110u);

    // A tail of 40% of the target is its own chunk.
    source += std::string(30 * 5, ' ');
    for (int word = 0; word < 30; ++word) {
        source += "more ";
    }
    EXPECT_EQ(chunk_document(as_text(source), options).size(), 2u);
}

TEST(ChunkerTest, ChunksFollowSectionsWithConsecutiveOrdinals) {
    const auto parsed = parse_markdown("# Guide\n\n" + make_prose(10, 1) +
                                       "\n\n## Install\n\nShort install note.\n\n"
                                       "## Use\n\n" +
                                       make_prose(10, 2) + "\n");
    ASSERT_TRUE(parsed.has_value());
    ChunkerOptions options;
    options.chunk_tokens = 80;
    const auto chunks = chunk_document(*parsed, options);
    ASSERT_GT(chunks.size(), 4u);
    std::size_t install_chunks = 0;
    for (std::size_t idx = 0; idx < chunks.size(); ++idx) {
        EXPECT_EQ(chunks[idx].ordinal, idx);
        ASSERT_FALSE(chunks[idx].heading_path.empty());
        EXPECT_EQ(chunks[idx].heading_path[0], "Guide");
        // The section's text contains the whole chunk: no chunk crosses a section.
        bool inside = false;
        for (const Section& section : parsed->sections) {
            if (section.heading_path == chunks[idx].heading_path) {
                inside = section.text.find(chunks[idx].text) != std::string::npos;
                EXPECT_GE(chunks[idx].source_begin, section.source_begin);
                EXPECT_LE(chunks[idx].source_end, section.source_end);
                EXPECT_LT(chunks[idx].source_begin, chunks[idx].source_end);
            }
        }
        EXPECT_TRUE(inside) << "chunk " << idx;
        if (chunks[idx].heading_path == std::vector<std::string>{"Guide", "Install"}) {
            ++install_chunks;
            EXPECT_EQ(chunks[idx].text, "Short install note.");  // a whole small section
        }
    }
    EXPECT_EQ(install_chunks, 1u);
}

TEST(ChunkerTest, GiantWordIsSplitSafely) {
    std::string blob;
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int pos = 0; pos < 10240; ++pos) {
        blob += alphabet[(pos * 37) % 64];
    }
    const std::string source = make_prose(3) + "\n\n" + blob + "\n\n" + make_prose(3, 9);
    ChunkerOptions options;
    options.chunk_tokens = 100;
    const auto chunks = chunk_document(as_text(source), options);
    std::string rebuilt_blob;
    for (const ChunkDraft& chunk : chunks) {
        EXPECT_LE(approximate_tokens(chunk.text), 125u);
        EXPECT_EQ(source.substr(chunk.source_begin, chunk.source_end - chunk.source_begin),
                  chunk.text);
    }
    // Every byte of the blob is in some chunk.
    const std::size_t blob_begin = source.find(blob);
    std::vector<bool> covered(blob.size(), false);
    for (const ChunkDraft& chunk : chunks) {
        for (std::uint64_t pos = chunk.source_begin; pos < chunk.source_end; ++pos) {
            if (pos >= blob_begin && pos < blob_begin + blob.size()) {
                covered[pos - blob_begin] = true;
            }
        }
    }
    for (std::size_t pos = 0; pos < blob.size(); ++pos) {
        ASSERT_TRUE(covered[pos]) << pos;
    }
}

TEST(ChunkerTest, MultiByteTextIsNeverCut) {
    // Accented words, emoji, and a long run of CJK with no spaces (a giant "word").
    std::string source;
    for (int word = 0; word < 400; ++word) {
        source +=
            word % 3 == 0 ? "caf\xC3\xA9\xC3\xA9\xC3\xA9 " : "\xF0\x9F\x98\x80\xF0\x9F\x98\x81 ";
    }
    source += "\n\n";
    for (int ch = 0; ch < 5000; ++ch) {
        source += "\xE6\x96\x87";  // 文
    }
    source += "\n\n";
    // Mixed 1-, 2- and 4-byte characters, so 6-byte token units fall mid-character.
    for (int ch = 0; ch < 3000; ++ch) {
        source += ch % 3 == 0 ? "x\xC3\xA9" : "\xF0\x9F\x98\x80";
    }
    for (const std::size_t target : {1u, 3u, 7u, 32u, 50u, 300u}) {
        ChunkerOptions options;
        options.chunk_tokens = target;
        const auto chunks = chunk_document(as_text(source), options);
        ASSERT_FALSE(chunks.empty());
        for (const ChunkDraft& chunk : chunks) {
            ASSERT_TRUE(core::is_valid_utf8(chunk.text)) << "target " << target;
            ASSERT_FALSE(chunk.text.empty());
        }
    }
}

TEST(ChunkerTest, ExtremeOptionsAreClamped) {
    const std::string source = make_prose(20);
    for (const double overlap : {-1.0, 0.0, 0.99, 5.0, std::nan("")}) {
        ChunkerOptions options;
        options.chunk_tokens = 0;
        options.overlap = overlap;
        const auto chunks = chunk_document(as_text(make_prose(2)), options);
        ASSERT_FALSE(chunks.empty());
        options.chunk_tokens = 50;
        const auto normal = chunk_document(as_text(source), options);
        for (std::size_t idx = 1; idx < normal.size(); ++idx) {
            ASSERT_GT(normal[idx].source_end, normal[idx - 1].source_end);
        }
    }
}

TEST(ChunkerTest, SectionsWithoutAnchorsUseSectionRange) {
    ParsedDocument doc;
    doc.sections.push_back(Section{{"H"}, make_prose(5), 100, 900, {}});
    ChunkerOptions options;
    options.chunk_tokens = 50;
    const auto chunks = chunk_document(doc, options);
    ASSERT_GT(chunks.size(), 1u);
    for (const ChunkDraft& chunk : chunks) {
        EXPECT_EQ(chunk.source_begin, 100u);
        EXPECT_EQ(chunk.source_end, 900u);
        EXPECT_EQ(chunk.heading_path, std::vector<std::string>{"H"});
    }
}

}  // namespace
}  // namespace ragd::ingest
