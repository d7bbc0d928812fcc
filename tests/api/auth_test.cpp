// Access control without a server: key parsing and lookup, scope and collection checks, tenant
// filters, and the per-key rate limiter on a clock the tests move by hand.
#include "api/auth.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

#include "api/access_rules.hpp"
#include "core/auth_config.hpp"
#include "core/config_loader.hpp"
#include "core/hash.hpp"

namespace ragd::api {
namespace {

using namespace std::chrono_literals;

constexpr const char* kAcmeKey = "ragd_acme_secret";
constexpr const char* kGlobexKey = "ragd_globex_secret";

core::ApiKeyConfig key_config(std::string name,
                              const std::string& secret,
                              std::vector<std::string> scopes = {"query"}) {
    core::ApiKeyConfig key;
    key.name = std::move(name);
    key.sha256 = core::sha256_hex(secret);
    key.scopes = std::move(scopes);
    return key;
}

ApiKeyStore store_of(const std::vector<core::ApiKeyConfig>& keys) {
    auto store = ApiKeyStore::from_config(keys);
    EXPECT_TRUE(store.has_value()) << store.error().detail;
    return store ? std::move(*store) : ApiKeyStore{};
}

http::Request request_with(std::vector<http::Header> headers) {
    http::Request request;
    request.headers = std::move(headers);
    return request;
}

http::Request bearer(const std::string& key) {
    return request_with({{"Authorization", "Bearer " + key}});
}

std::string header_of(const http::Response& response, std::string_view name) {
    for (const auto& header : response.headers) {
        if (header.name == name) {
            return header.value;
        }
    }
    return "<none>";
}

std::string header_of(const std::vector<http::Header>& headers, std::string_view name) {
    http::Response response;
    response.headers = headers;
    return header_of(response, name);
}

/// A clock the test advances by hand.
struct FakeClock {
    RateClock::time_point now = RateClock::time_point(1h);
    Authenticator::Now fn() {
        return [this] {
            return now;
        };
    }
};

const Protection kQueryRoute{Scope::kQuery, "default", false};
const Protection kAnswerRoute{Scope::kQuery, "default", true};
const Protection kIngestRoute{Scope::kIngest, "default", false};

// ---- keys -----------------------------------------------------------------------------------

TEST(ApiKeyStore, FindsKeysByTheirHashOnly) {
    auto acme = key_config("acme", kAcmeKey);
    acme.sha256 = core::sha256_hex(kAcmeKey);
    std::transform(acme.sha256.begin(), acme.sha256.end(), acme.sha256.begin(), ::toupper);
    const ApiKeyStore store = store_of({acme, key_config("globex", kGlobexKey)});
    const ApiKey* found = store.find(kAcmeKey);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->name, "acme");  // upper-case hex in the config is accepted
    ASSERT_NE(store.find(kGlobexKey), nullptr);
    EXPECT_EQ(store.find(kGlobexKey)->name, "globex");
    EXPECT_EQ(store.find("ragd_acme_secreT"), nullptr);
    EXPECT_EQ(store.find(""), nullptr);
    // The configured digest itself is not a key.
    EXPECT_EQ(store.find(core::sha256_hex(kAcmeKey)), nullptr);
}

TEST(ApiKeyStore, ParsesScopesFilterAndLimits) {
    auto key = key_config("acme", kAcmeKey, {"query", "ingest"});
    key.filter = {{"tenant", "acme"}, {"region", "eu"}};
    key.collections = {"default"};
    key.requests_per_second = 0.5;
    const ApiKeyStore store = store_of({key});
    const ApiKey& parsed = *store.find(kAcmeKey);
    EXPECT_TRUE(parsed.has_scope(Scope::kQuery));
    EXPECT_TRUE(parsed.has_scope(Scope::kIngest));
    EXPECT_FALSE(parsed.has_scope(Scope::kAdmin));
    EXPECT_TRUE(parsed.allows_collection("default"));
    EXPECT_FALSE(parsed.allows_collection("other"));
    ASSERT_EQ(parsed.filter.size(), 2u);
    EXPECT_EQ(parsed.filter[0].first, "region");  // sorted
    EXPECT_DOUBLE_EQ(parsed.limits.burst, 1.0);   // burst 0 -> max(1, rps)
}

TEST(ApiKeyStore, RejectsBadDigestsNamingTheKey) {
    auto bad = key_config("acme", kAcmeKey);
    bad.sha256 = "abc";
    auto store = ApiKeyStore::from_config({key_config("ok", kGlobexKey), bad});
    ASSERT_FALSE(store.has_value());
    EXPECT_NE(store.error().detail.find("auth.keys[1].sha256"), std::string::npos);
    EXPECT_NE(store.error().detail.find("acme"), std::string::npos);
    auto duplicate =
        ApiKeyStore::from_config({key_config("a", kAcmeKey), key_config("b", kAcmeKey)});
    ASSERT_FALSE(duplicate.has_value());
}

TEST(ApiKeyStore, GeneratedKeysAreRandomAndWellFormed) {
    auto first = generate_api_key();
    auto second = generate_api_key();
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->rfind("ragd_", 0), 0u);
    EXPECT_EQ(first->size(), 5u + 64u);
    EXPECT_NE(*first, *second);
}

TEST(AuthConfig, ValidationNamesTheKeyAndField) {
    core::AuthConfig auth;
    auth.keys.push_back(key_config("acme", kAcmeKey));
    auth.keys.push_back(key_config("acme", kGlobexKey, {"query", "root"}));
    auto third = key_config("bad name!", "x");
    third.sha256 = "not-hex";
    third.burst = 5;
    auth.keys.push_back(third);
    const auto problems = core::validate_auth_config(auth);
    auto has = [&](std::string_view text) {
        return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) {
            return p.find(text) != std::string::npos;
        });
    };
    EXPECT_TRUE(has("auth.keys[1].name: is used by an earlier key"));
    EXPECT_TRUE(has("auth.keys[1].scopes: unknown scope 'root'"));
    EXPECT_TRUE(has("auth.keys[2].sha256: must be 64 hex digits"));
    EXPECT_TRUE(has("auth.keys[2].name:"));
    EXPECT_TRUE(has("auth.keys[2].burst: needs requests_per_second"));
    EXPECT_FALSE(has("auth.keys[0]"));
}

TEST(AuthConfig, TomlTablesRoundTripThroughTheLoader) {
    auto key = key_config("acme", kAcmeKey, {"query", "ingest"});
    key.filter = {{"team.name", "x"}, {"tenant", "acme \"quoted\""}};  // sorted, as loaded
    key.collections = {"default"};
    key.requests_per_second = 2.5;
    key.burst = 5;
    key.daily_tokens = 100000;
    const std::string toml = "[auth]\nprotect_metrics = true\n\n" + core::format_api_key_toml(key) +
                             "\n" + core::format_api_key_toml(key_config("globex", kGlobexKey));
    const auto path = std::filesystem::temp_directory_path() / "ragd_auth_test_keys.toml";
    std::ofstream(path) << toml;
    core::ConfigSources sources;
    sources.use_environment = false;
    sources.file = path.string();
    auto config = core::load_config(sources);
    ASSERT_TRUE(config.has_value()) << config.error().detail << "\n" << toml;
    EXPECT_TRUE(config->auth.protect_metrics);
    ASSERT_EQ(config->auth.keys.size(), 2u);
    const core::ApiKeyConfig& loaded = config->auth.keys[0];
    EXPECT_EQ(loaded.name, "acme");
    EXPECT_EQ(loaded.sha256, key.sha256);
    EXPECT_EQ(loaded.scopes, key.scopes);
    EXPECT_EQ(loaded.collections, key.collections);
    EXPECT_EQ(loaded.filter, key.filter);
    EXPECT_DOUBLE_EQ(loaded.requests_per_second, 2.5);
    EXPECT_DOUBLE_EQ(loaded.burst, 5);
    EXPECT_DOUBLE_EQ(loaded.daily_tokens, 100000);
    EXPECT_EQ(config->auth.keys[1].scopes, std::vector<std::string>{"query"});
    // The printout carries the tables too (hash only).
    const std::string printed = core::print_config(*config);
    EXPECT_NE(printed.find("[[auth.keys]]"), std::string::npos);
    EXPECT_NE(printed.find(key.sha256), std::string::npos);
    std::filesystem::remove(path);
}

TEST(AuthConfig, LoaderRejectsMalformedTablesNamingTheKey) {
    const auto path = std::filesystem::temp_directory_path() / "ragd_auth_test_bad.toml";
    std::ofstream(path)
        << "[[auth.keys]]\nname = \"a\"\nsha256 = \"" << core::sha256_hex("k")
        << "\"\n\n[[auth.keys]]\nname = \"b\"\nsha256 = \"00\"\nscopes = \"query\"\n"
           "filter = { tenant = 3 }\nburst = \"many\"\nsecret = \"x\"\n";
    core::ConfigSources sources;
    sources.use_environment = false;
    sources.file = path.string();
    auto config = core::load_config(sources);
    ASSERT_FALSE(config.has_value());
    const std::string& detail = config.error().detail;
    EXPECT_NE(detail.find("auth.keys[1].scopes: must be an array of strings"), std::string::npos)
        << detail;
    EXPECT_NE(detail.find("auth.keys[1].filter.tenant: must be a string"), std::string::npos);
    EXPECT_NE(detail.find("auth.keys[1].burst: must be a number"), std::string::npos);
    EXPECT_NE(detail.find("unknown key 'auth.keys[1].secret'"), std::string::npos);
    EXPECT_EQ(detail.find("auth.keys[0]"), std::string::npos);
    std::filesystem::remove(path);
}

// ---- exposure -------------------------------------------------------------------------------

TEST(Exposure, LoopbackAddresses) {
    EXPECT_TRUE(is_loopback_listen("127.0.0.1:8080"));
    EXPECT_TRUE(is_loopback_listen("127.1.2.3:0"));
    EXPECT_TRUE(is_loopback_listen("localhost:8080"));
    EXPECT_TRUE(is_loopback_listen("LocalHost:8080"));
    EXPECT_TRUE(is_loopback_listen("[::1]:8080"));
    EXPECT_TRUE(is_loopback_listen("[::ffff:127.0.0.1]:8080"));
    EXPECT_FALSE(is_loopback_listen("0.0.0.0:8080"));
    EXPECT_FALSE(is_loopback_listen(":8080"));
    EXPECT_FALSE(is_loopback_listen("[::]:8080"));
    EXPECT_FALSE(is_loopback_listen("10.0.0.1:8080"));
    EXPECT_FALSE(is_loopback_listen("128.0.0.1:8080"));
    EXPECT_FALSE(is_loopback_listen("example.com:8080"));
}

TEST(Exposure, RemoteWithoutKeysRefusesUnlessAllowed) {
    core::Config config;
    EXPECT_EQ(auth_required(config).value(), false);  // loopback, no keys
    config.server.listen = "0.0.0.0:0";
    auto refused = auth_required(config);
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().detail.find("ragd keys create"), std::string::npos);
    config.auth.allow_unauthenticated_remote = true;
    EXPECT_EQ(auth_required(config).value(), false);
    config.auth.allow_unauthenticated_remote = false;
    config.auth.keys.push_back(key_config("acme", kAcmeKey));
    EXPECT_EQ(auth_required(config).value(), true);  // keys: on wherever it listens
    config.server.listen = "127.0.0.1:0";
    EXPECT_EQ(auth_required(config).value(), true);
    config.auth.enabled = "false";
    EXPECT_EQ(auth_required(config).value(), false);
    config.server.listen = "0.0.0.0:0";
    EXPECT_FALSE(auth_required(config).has_value());  // explicitly off and exposed
}

TEST(Exposure, FailsClosedWhenMisconfigured) {
    core::Config config;
    config.server.listen = "0.0.0.0:0";
    auto auth = make_authenticator(config);
    ASSERT_TRUE(auth->enabled());
    EXPECT_EQ(auth->admit(bearer(kAcmeKey), kQueryRoute).rejection->status, 401);
}

// ---- authentication and authorisation -------------------------------------------------------

TEST(Authenticator, DisabledAdmitsEveryoneAnonymously) {
    const Authenticator auth;
    const Admission admission = auth.admit(http::Request{}, kIngestRoute);
    EXPECT_FALSE(admission.rejection.has_value());
    EXPECT_FALSE(admission.principal.authenticated());
    EXPECT_TRUE(admission.principal.has_scope(Scope::kAdmin));
    EXPECT_TRUE(admission.principal.filter().empty());
    EXPECT_TRUE(admission.headers.empty());
}

TEST(Authenticator, PresentedKeyHeaders) {
    bool malformed = false;
    EXPECT_EQ(presented_key(bearer("k1"), &malformed).value(), "k1");
    EXPECT_EQ(presented_key(request_with({{"authorization", "bearer   k2  "}}), &malformed).value(),
              "k2");
    EXPECT_EQ(presented_key(request_with({{"X-API-Key", "k3"}}), &malformed).value(), "k3");
    EXPECT_EQ(
        presented_key(request_with({{"Authorization", "Bearer k4"}, {"X-API-Key", "k5"}}), nullptr)
            .value(),
        "k4");
    EXPECT_EQ(
        presented_key(request_with({{"Authorization", "Basic abc"}, {"X-API-Key", "k6"}}), nullptr)
            .value(),
        "k6");
    EXPECT_FALSE(presented_key(request_with({{"Authorization", "Basic abc"}}), &malformed));
    EXPECT_TRUE(malformed);
    EXPECT_FALSE(presented_key(request_with({{"Authorization", "Bearer "}}), &malformed));
    EXPECT_TRUE(malformed);
    EXPECT_FALSE(presented_key(http::Request{}, &malformed));
    EXPECT_FALSE(malformed);
}

TEST(Authenticator, MissingOrUnknownKeyIs401WithChallenge) {
    const Authenticator auth(store_of({key_config("acme", kAcmeKey)}));
    const Admission missing = auth.admit(http::Request{}, kQueryRoute);
    ASSERT_TRUE(missing.rejection.has_value());
    EXPECT_EQ(missing.rejection->status, 401);
    EXPECT_EQ(header_of(*missing.rejection, "WWW-Authenticate"), R"(Bearer realm="ragd")");
    EXPECT_NE(missing.rejection->body.find(R"("type":"unauthorized")"), std::string::npos);

    const std::string wrong = "ragd_wrong_key_123";
    const Admission unknown = auth.admit(bearer(wrong), kQueryRoute);
    ASSERT_TRUE(unknown.rejection.has_value());
    EXPECT_EQ(unknown.rejection->status, 401);
    EXPECT_NE(header_of(*unknown.rejection, "WWW-Authenticate").find("invalid_token"),
              std::string::npos);
    EXPECT_EQ(unknown.rejection->body.find(wrong), std::string::npos);  // never echoed

    const Admission basic =
        auth.admit(request_with({{"Authorization", "Basic Zm9vOmJhcg=="}}), kQueryRoute);
    EXPECT_EQ(basic.rejection->status, 401);
}

TEST(Authenticator, ScopeAndCollectionAre403NamingOnlyTheKeyName) {
    auto limited = key_config("reader", kAcmeKey);
    limited.collections = {"other"};
    const Authenticator auth(store_of({key_config("acme", kGlobexKey, {"query"}), limited}));
    const Admission ok = auth.admit(bearer(kGlobexKey), kQueryRoute);
    EXPECT_FALSE(ok.rejection.has_value());
    EXPECT_EQ(ok.principal.name(), "acme");

    const Admission no_scope = auth.admit(bearer(kGlobexKey), kIngestRoute);
    ASSERT_TRUE(no_scope.rejection.has_value());
    EXPECT_EQ(no_scope.rejection->status, 403);
    EXPECT_NE(no_scope.rejection->body.find("'ingest' scope"), std::string::npos);
    EXPECT_NE(no_scope.rejection->body.find("acme"), std::string::npos);
    EXPECT_EQ(no_scope.rejection->body.find(kGlobexKey), std::string::npos);

    const Admission no_collection = auth.admit(bearer(kAcmeKey), kQueryRoute);
    ASSERT_TRUE(no_collection.rejection.has_value());
    EXPECT_EQ(no_collection.rejection->status, 403);
    EXPECT_NE(no_collection.rejection->body.find("collection 'default'"), std::string::npos);
    // Routes about no collection (stats) do not check it.
    const Authenticator admin(store_of({[] {
        auto key = key_config("ops", kAcmeKey, {"admin"});
        key.collections = {"other"};
        return key;
    }()}));
    EXPECT_FALSE(admin.admit(bearer(kAcmeKey), Protection{Scope::kAdmin, "", false}).rejection);
}

TEST(Authenticator, GuardAnswersRejectionsItselfAndAddsHeaders) {
    FakeClock clock;
    auto key = key_config("acme", kAcmeKey);
    key.requests_per_second = 1;
    key.burst = 2;
    auto auth = std::make_shared<const Authenticator>(store_of({key}), nullptr, clock.fn());
    int calls = 0;
    http::Handler handler =
        guard(auth, kQueryRoute, [&calls](const http::Request&, const Principal& caller) {
            ++calls;
            return http::Response::json(200, "{\"who\":\"" + std::string(caller.name()) + "\"}");
        });
    EXPECT_EQ(handler(http::Request{}).status, 401);
    EXPECT_EQ(calls, 0);
    const http::Response first = handler(bearer(kAcmeKey));
    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(first.body, R"({"who":"acme"})");
    EXPECT_EQ(header_of(first, "RateLimit-Limit"), "2");
    EXPECT_EQ(header_of(first, "RateLimit-Remaining"), "1");
    EXPECT_EQ(handler(bearer(kAcmeKey)).status, 200);
    const http::Response limited = handler(bearer(kAcmeKey));
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(calls, 2);
}

// ---- rate limits ----------------------------------------------------------------------------

TEST(RateLimits, BurstThenRefillWithHeaders) {
    FakeClock clock;
    auto key = key_config("acme", kAcmeKey);
    key.requests_per_second = 2;
    key.burst = 3;
    const Authenticator auth(store_of({key, key_config("free", kGlobexKey)}), nullptr, clock.fn());
    for (int request_idx = 0; request_idx < 3; ++request_idx) {
        const Admission admitted = auth.admit(bearer(kAcmeKey), kQueryRoute);
        ASSERT_FALSE(admitted.rejection.has_value()) << request_idx;
        EXPECT_EQ(header_of(admitted.headers, "RateLimit-Limit"), "3");
        EXPECT_EQ(header_of(admitted.headers, "RateLimit-Remaining"),
                  std::to_string(2 - request_idx));
    }
    const Admission refused = auth.admit(bearer(kAcmeKey), kQueryRoute);
    ASSERT_TRUE(refused.rejection.has_value());
    EXPECT_EQ(refused.rejection->status, 429);
    EXPECT_NE(refused.rejection->body.find(R"("type":"rate_limited")"), std::string::npos);
    EXPECT_EQ(header_of(*refused.rejection, "Retry-After"), "1");
    EXPECT_EQ(header_of(*refused.rejection, "RateLimit-Remaining"), "0");
    EXPECT_EQ(header_of(*refused.rejection, "RateLimit-Limit"), "3");
    EXPECT_EQ(header_of(*refused.rejection, "RateLimit-Reset"), "2");  // 3 tokens at 2/s
    // Refusals consume nothing: half a second later one request fits again.
    EXPECT_TRUE(auth.admit(bearer(kAcmeKey), kQueryRoute).rejection.has_value());
    clock.now += 500ms;
    EXPECT_FALSE(auth.admit(bearer(kAcmeKey), kQueryRoute).rejection.has_value());
    EXPECT_TRUE(auth.admit(bearer(kAcmeKey), kQueryRoute).rejection.has_value());
    // An unlimited key is unaffected and gets no headers.
    const Admission free = auth.admit(bearer(kGlobexKey), kQueryRoute);
    EXPECT_FALSE(free.rejection.has_value());
    EXPECT_TRUE(free.headers.empty());
    // A long pause refills to the burst, not beyond.
    clock.now += 1h;
    for (int request_idx = 0; request_idx < 3; ++request_idx) {
        EXPECT_FALSE(auth.admit(bearer(kAcmeKey), kQueryRoute).rejection.has_value());
    }
    EXPECT_TRUE(auth.admit(bearer(kAcmeKey), kQueryRoute).rejection.has_value());
}

TEST(RateLimits, TokenBudgetsRefuseAnswerRoutesOnlyAndRefill) {
    FakeClock clock;
    auto key = key_config("acme", kAcmeKey);
    key.tokens_per_minute = 600;  // 10 tokens/s
    const ApiKeyStore store = store_of({key});
    LocalRateLimiter limiter(store, clock.now);
    const ApiKey& acme = *store.find(kAcmeKey);
    EXPECT_TRUE(limiter.admit(acme, true, clock.now).allowed);
    limiter.charge_tokens(acme, 700, clock.now);  // 100 tokens of debt
    const RateDecision refused = limiter.admit(acme, true, clock.now);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.exceeded, "tokens_per_minute");
    EXPECT_EQ(refused.retry_after, 11s);  // 101 tokens at 10/s
    EXPECT_FALSE(refused.limited);        // no request limit: no RateLimit-* headers
    EXPECT_TRUE(limiter.admit(acme, false, clock.now).allowed);  // search costs no tokens
    clock.now += 11s;
    EXPECT_TRUE(limiter.admit(acme, true, clock.now).allowed);
}

TEST(RateLimits, DailyBudgetRefillsOverADay) {
    FakeClock clock;
    auto key = key_config("acme", kAcmeKey);
    key.daily_tokens = 86400;  // 1 token/s
    const ApiKeyStore store = store_of({key});
    LocalRateLimiter limiter(store, clock.now);
    const ApiKey& acme = *store.find(kAcmeKey);
    limiter.charge_tokens(acme, 86400, clock.now);
    const RateDecision refused = limiter.admit(acme, true, clock.now);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.exceeded, "daily_tokens");
    EXPECT_EQ(refused.retry_after, 1s);
    clock.now += 1s;
    EXPECT_TRUE(limiter.admit(acme, true, clock.now).allowed);
}

TEST(RateLimits, PrincipalChargesThroughTheAuthenticator) {
    FakeClock clock;
    auto key = key_config("acme", kAcmeKey);
    key.tokens_per_minute = 60;
    const Authenticator auth(store_of({key}), nullptr, clock.fn());
    const Admission first = auth.admit(bearer(kAcmeKey), kAnswerRoute);
    ASSERT_FALSE(first.rejection.has_value());
    first.principal.charge_tokens(120);
    const Admission refused = auth.admit(bearer(kAcmeKey), kAnswerRoute);
    ASSERT_TRUE(refused.rejection.has_value());
    EXPECT_EQ(refused.rejection->status, 429);
    EXPECT_EQ(header_of(*refused.rejection, "Retry-After"), "61");
    EXPECT_FALSE(auth.admit(bearer(kAcmeKey), kQueryRoute).rejection.has_value());
}

TEST(RateLimits, AnswerTokensPreferReportedUsage) {
    llm::AnswerRequest request;
    request.question = "what is the zephyrine glacier";
    request.passages.push_back(llm::Passage{1, std::string(400, 'a'), "", {}, "d", ""});
    llm::Answer extractive;
    extractive.text = "An answer.";
    EXPECT_EQ(answer_tokens(extractive, request), 0u);
    llm::Answer upstream = extractive;
    upstream.model = "gpt";
    EXPECT_GT(answer_tokens(upstream, request), 100u);  // estimated: passages dominate
    upstream.usage = llm::Usage{30, 12, true};
    EXPECT_EQ(answer_tokens(upstream, request), 42u);
}

// ---- tenants --------------------------------------------------------------------------------

TEST(Tenants, KeyFilterWinsOverTheRequest) {
    auto key = key_config("acme", kAcmeKey);
    key.filter = {{"tenant", "acme"}};
    const Authenticator auth(store_of({key}));
    const Principal acme = auth.admit(bearer(kAcmeKey), kQueryRoute).principal;

    pipeline::QueryOptions options;
    options.filter.metadata = {{"tenant", "globex"}, {"lang", "en"}};
    restrict_query(acme, options);
    const storage::Metadata expected = {{"lang", "en"}, {"tenant", "acme"}};
    EXPECT_EQ(options.filter.metadata, expected);

    pipeline::QueryOptions none;
    restrict_query(acme, none);
    EXPECT_EQ(none.filter.metadata, (storage::Metadata{{"tenant", "acme"}}));

    pipeline::QueryOptions anonymous;
    anonymous.filter.metadata = {{"tenant", "globex"}};
    restrict_query(Principal{}, anonymous);
    EXPECT_EQ(anonymous.filter.metadata, (storage::Metadata{{"tenant", "globex"}}));
}

TEST(Tenants, AccessNeedsEveryFilterPair) {
    auto key = key_config("acme", kAcmeKey);
    key.filter = {{"region", "eu"}, {"tenant", "acme"}};
    const Authenticator auth(store_of({key}));
    const Principal acme = auth.admit(bearer(kAcmeKey), kQueryRoute).principal;
    EXPECT_TRUE(may_access(acme, {{"lang", "en"}, {"region", "eu"}, {"tenant", "acme"}}));
    EXPECT_FALSE(may_access(acme, {{"tenant", "acme"}}));
    EXPECT_FALSE(may_access(acme, {{"region", "eu"}, {"tenant", "globex"}}));
    EXPECT_TRUE(may_access(Principal{}, {}));
}

class TenantIngest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("ragd_auth_test_" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir_);
        auto opened = storage::open_sqlite_storage(dir_.string());
        ASSERT_TRUE(opened.has_value()) << opened.error().detail;
        storage_ = std::move(*opened);
    }
    void TearDown() override {
        storage_.reset();
        std::filesystem::remove_all(dir_);
    }
    void store(const std::string& id, storage::Metadata metadata) {
        storage::DocumentRecord doc;
        doc.id = id;
        doc.content_hash = core::sha256_hex(id);
        doc.metadata = std::move(metadata);
        ASSERT_TRUE(storage_->upsert_document(doc, {}, "m").has_value());
    }
    std::filesystem::path dir_;
    std::unique_ptr<storage::Storage> storage_;
};

TEST_F(TenantIngest, StampsFilterAndRefusesOtherTenantsIds) {
    auto acme_key = key_config("acme", kAcmeKey, {"ingest"});
    acme_key.filter = {{"tenant", "acme"}};
    const Authenticator auth(store_of({acme_key}));
    const Principal acme = auth.admit(bearer(kAcmeKey), kIngestRoute).principal;
    store("globex-doc", {{"tenant", "globex"}});
    store("acme-doc", {{"tenant", "acme"}});

    pipeline::IngestRequest mine;
    mine.id = "acme-doc";
    mine.content = "text";
    mine.metadata = {{"tenant", "globex"}, {"lang", "en"}};
    ASSERT_TRUE(prepare_ingest(acme, mine, *storage_).has_value());
    EXPECT_EQ(mine.metadata, (storage::Metadata{{"lang", "en"}, {"tenant", "acme"}}));

    pipeline::IngestRequest theirs;
    theirs.id = "globex-doc";
    theirs.content = "text";
    auto refused = prepare_ingest(acme, theirs, *storage_);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, core::ErrorCode::kConflict);

    // Id-less documents get an id that depends on the tenant, not only on the content.
    pipeline::IngestRequest anonymous_id;
    anonymous_id.content = "same content";
    ASSERT_TRUE(prepare_ingest(acme, anonymous_id, *storage_).has_value());
    EXPECT_EQ(anonymous_id.id.size(), 16u);
    EXPECT_NE(anonymous_id.id, core::sha256_hex("same content").substr(0, 16));

    // Unfiltered callers pass through untouched.
    pipeline::IngestRequest global;
    global.id = "globex-doc";
    global.content = "text";
    ASSERT_TRUE(prepare_ingest(Principal{}, global, *storage_).has_value());
    EXPECT_TRUE(global.metadata.empty());
}

}  // namespace
}  // namespace ragd::api
