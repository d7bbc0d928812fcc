#include "cache/cache_key.hpp"

#include <gtest/gtest.h>

namespace ragd::cache {
namespace {

TEST(NormalizeQuery, TrimsCollapsesLowersAndStripsTrailingPunctuation) {
    EXPECT_EQ(normalize_query("  How do I\tcreate\n\n an  Index?? "), "how do i create an index");
    EXPECT_EQ(normalize_query("What is WAL ?!."), "what is wal");
    EXPECT_EQ(normalize_query("v1.2. "), "v1.2");
    EXPECT_EQ(normalize_query("???"), "");
    EXPECT_EQ(normalize_query(""), "");
    // Inner punctuation stays: "what? why" is not "what why".
    EXPECT_EQ(normalize_query("What? Why!"), "what? why");
}

TEST(NormalizeQuery, LeavesNonAsciiBytesAlone) {
    EXPECT_EQ(normalize_query("\xC3\x84RGER Caf\xC3\xA9"), "\xC3\x84rger caf\xC3\xA9");
}

TEST(CacheKey, SameForQuestionsThatNormalizeAlike) {
    const KeyParams params;
    const CacheKey a = make_cache_key("How do I create an index?", params);
    const CacheKey b = make_cache_key("how do i   create an index", params);
    EXPECT_EQ(a.exact, b.exact);
    EXPECT_EQ(a.exact.size(), 64u);
    EXPECT_EQ(a.normalized_query, "how do i create an index");
    EXPECT_NE(a.exact, make_cache_key("how do i drop an index", params).exact);
}

TEST(CacheKey, EveryParameterChangesTheKey) {
    const KeyParams base{.collection = "docs",
                         .generation = 3,
                         .top_k = 5,
                         .mode = "hybrid",
                         .filters = {{"lang", "en"}},
                         .tenant = "acme",
                         .embed_model = "lexical-hash-512",
                         .generator = "openai/gpt-4o-mini",
                         .max_tokens = 512,
                         .temperature = 0.2,
                         .prompt_version = "v1",
                         .extra = {}};
    const std::string question = "what is mvcc";
    const CacheKey reference = make_cache_key(question, base);
    std::vector<KeyParams> variants(11, base);
    variants[0].collection = "other";
    variants[1].generation = 4;
    variants[2].top_k = 6;
    variants[3].mode = "vector";
    variants[4].filters = {{"lang", "de"}};
    variants[5].tenant = "globex";
    variants[6].embed_model = "bge-small";
    variants[7].generator = "anthropic/claude";
    variants[8].max_tokens = 256;
    variants[9].temperature = 0.3;
    variants[10].prompt_version = "v2";
    for (std::size_t variant_idx = 0; variant_idx < variants.size(); ++variant_idx) {
        EXPECT_NE(make_cache_key(question, variants[variant_idx]).exact, reference.exact)
            << "variant " << variant_idx;
    }
    KeyParams with_extra = base;
    with_extra.extra = {{"include_passages", "true"}};
    EXPECT_NE(make_cache_key(question, with_extra).exact, reference.exact);
}

TEST(CacheKey, FilterOrderDoesNotMatter) {
    KeyParams a;
    a.filters = {{"lang", "en"}, {"product", "db"}};
    KeyParams b;
    b.filters = {{"product", "db"}, {"lang", "en"}};
    EXPECT_EQ(make_cache_key("q", a).exact, make_cache_key("q", b).exact);
}

TEST(CacheKey, FieldsCannotBleedIntoEachOther) {
    // Length prefixes: moving text between adjacent fields changes the canonical form.
    KeyParams a;
    a.mode = "hybrid;";
    a.tenant = "";
    KeyParams b;
    b.mode = "hybrid";
    b.tenant = ";";
    EXPECT_NE(canonical_params(a), canonical_params(b));
    KeyParams c;
    c.filters = {{"a", "b"}, {"c", "d"}};
    KeyParams d;
    d.filters = {{"a", "b;k=1:c;v=1:d"}};
    EXPECT_NE(make_cache_key("q", c).exact, make_cache_key("q", d).exact);
}

TEST(CacheKey, ScopeIgnoresQuestionAndGenerationOnly) {
    KeyParams params;
    params.collection = "docs";
    const CacheKey a = make_cache_key("first question", params);
    params.generation = 9;
    const CacheKey b = make_cache_key("second question", params);
    EXPECT_EQ(a.scope, b.scope);
    EXPECT_NE(a.exact, b.exact);
    EXPECT_EQ(b.generation, 9u);
    params.top_k = 50;
    EXPECT_NE(make_cache_key("first question", params).scope, a.scope);
}

}  // namespace
}  // namespace ragd::cache
