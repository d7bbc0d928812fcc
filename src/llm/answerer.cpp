#include "llm/answerer.hpp"

#include <algorithm>

namespace ragd::llm {
namespace net = boost::asio;

namespace {

std::vector<std::string> split_chain(const std::string& text) {
    std::vector<std::string> names;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string::npos) {
            comma = text.size();
        }
        std::string name = text.substr(start, comma - start);
        name.erase(0, name.find_first_not_of(" \t"));
        name.erase(name.find_last_not_of(" \t") + 1);
        if (!name.empty()) {
            names.push_back(std::move(name));
        }
        start = comma + 1;
    }
    return names;
}

core::UpstreamConfig primary_upstream(const core::LlmConfig& config) {
    core::UpstreamConfig upstream;
    upstream.name = config.provider;
    upstream.provider = config.provider;
    upstream.base_url = config.base_url;
    upstream.model = config.model;
    upstream.api_key_env = config.api_key_env;
    upstream.api_key_header = config.api_key_header;
    upstream.extra_query = config.extra_query;
    upstream.extra_headers = config.extra_headers;
    upstream.aws_region = config.aws_region;
    return upstream;
}

}  // namespace

void throw_exception_from_error(const AnswerFailure& failure, const boost::source_location&) {
    throw core::ErrorException(failure.error);
}

std::vector<std::size_t> find_citations(std::string_view text,
                                        const std::vector<std::size_t>& valid) {
    std::vector<std::size_t> cited;
    std::size_t pos = 0;
    while ((pos = text.find('[', pos)) != std::string_view::npos) {
        const std::size_t close = text.find(']', pos);
        if (close == std::string_view::npos || close - pos > 32) {
            ++pos;
            continue;
        }
        // "[3]" or "[1, 2]": digits separated by commas/spaces only.
        std::string_view inside = text.substr(pos + 1, close - pos - 1);
        std::vector<std::size_t> numbers;
        std::size_t value = 0;
        bool in_number = false;
        bool well_formed = !inside.empty();
        for (char c : inside) {
            if (c >= '0' && c <= '9') {
                value = value * 10 + static_cast<std::size_t>(c - '0');
                in_number = true;
            } else if (c == ',' || c == ' ') {
                if (in_number) {
                    numbers.push_back(value);
                }
                value = 0;
                in_number = false;
            } else {
                well_formed = false;
                break;
            }
        }
        if (in_number) {
            numbers.push_back(value);
        }
        if (!well_formed) {
            ++pos;  // a stray '[' must not swallow a citation that follows it
            continue;
        }
        for (std::size_t number : numbers) {
            const bool known = std::find(valid.begin(), valid.end(), number) != valid.end();
            if (known && std::find(cited.begin(), cited.end(), number) == cited.end()) {
                cited.push_back(number);
            }
        }
        pos = close + 1;
    }
    return cited;
}

core::Result<std::unique_ptr<Answerer>> Answerer::create(net::any_io_executor executor,
                                                         const core::LlmConfig& config,
                                                         UpstreamObserver* observer) {
    PromptOptions prompt_options;
    if (!config.system_prompt.empty()) {
        prompt_options.system_prompt = config.system_prompt;
    }
    if (!config.prompt_template.empty()) {
        prompt_options.user_template = config.prompt_template;
    }
    prompt_options.max_context_tokens = config.max_context_tokens;
    auto builder = PromptBuilder::create(std::move(prompt_options));
    if (!builder) {
        return builder.error();
    }
    std::unique_ptr<Answerer> answerer(
        new Answerer(std::move(*builder), config.extractive_max_sentences));

    std::vector<std::string> names{config.provider};
    for (std::string& name : split_chain(config.fallback)) {
        names.push_back(std::move(name));
    }
    std::vector<std::string> seen;
    for (const std::string& name : names) {
        if (name == "extractive" || std::find(seen.begin(), seen.end(), name) != seen.end()) {
            // Everything after extractive could never run: extractive always answers.
            if (name == "extractive") {
                break;
            }
            continue;
        }
        seen.push_back(name);
        core::UpstreamConfig upstream;
        if (name == config.provider) {
            upstream = primary_upstream(config);
        } else {
            const auto found =
                std::find_if(config.upstreams.begin(),
                             config.upstreams.end(),
                             [&name](const core::UpstreamConfig& u) { return u.name == name; });
            if (found == config.upstreams.end()) {
                return core::fail(core::ErrorCode::kInvalidArgument,
                                  "llm.fallback: no upstream named '" + name + "'");
            }
            upstream = *found;
        }
        auto created = Upstream::create(executor, upstream, config, observer);
        if (!created) {
            return created.error();
        }
        answerer->upstreams_.push_back(std::move(*created));
    }
    return answerer;
}

Answerer::Answerer(PromptBuilder prompt_builder, std::size_t extractive_max_sentences)
    : prompt_builder_(std::move(prompt_builder)), extractive_(extractive_max_sentences) {}

Answerer::~Answerer() = default;

std::vector<std::string> Answerer::chain() const {
    std::vector<std::string> names;
    for (const auto& upstream : upstreams_) {
        names.push_back(upstream->name());
    }
    names.emplace_back("extractive");
    return names;
}

std::vector<UpstreamStatus> Answerer::upstream_statuses() const {
    std::vector<UpstreamStatus> statuses;
    for (const auto& upstream : upstreams_) {
        statuses.push_back(UpstreamStatus{upstream->name(),
                                          std::string(upstream->dialect()),
                                          upstream->model(),
                                          upstream->breaker_state(),
                                          upstream->pool_stats()});
    }
    return statuses;
}

void Answerer::close_idle() {
    for (const auto& upstream : upstreams_) {
        upstream->close_idle();
    }
}

net::awaitable<AnswerResult<Answer>> Answerer::answer(const AnswerRequest& request,
                                                      AnswerSink* sink,
                                                      const ComputeRunner& compute) {
    std::vector<std::string> fallbacks;
    std::size_t attempts = 0;
    if (!upstreams_.empty()) {
        auto prompt = prompt_builder_.build(request.question, request.passages);
        if (!prompt) {
            co_return AnswerFailure{prompt.error(), false, 0, {}};
        }
        CallContext context;
        context.cancel = request.cancel;
        context.forward_headers = request.forward_headers;
        context.max_tokens = request.max_tokens;
        context.temperature = request.temperature;
        context.stream = request.stream;
        for (const auto& upstream : upstreams_) {
            auto result = co_await upstream->call(*prompt, context, sink);
            attempts += result ? result->attempts : result.error().attempts;
            if (result) {
                Answer answer;
                answer.text = std::move(result->text);
                answer.generator = upstream->name();
                answer.model = upstream->model();
                answer.usage = result->usage;
                answer.cited = find_citations(answer.text, prompt->included_passages);
                answer.upstream_attempts = attempts;
                answer.fallbacks = std::move(fallbacks);
                answer.first_token_ms = result->first_token_ms;
                co_return answer;
            }
            if (result.error().streamed || (request.cancel && request.cancel->cancelled())) {
                co_return AnswerFailure{
                    result.error().error, result.error().streamed, attempts, std::move(fallbacks)};
            }
            fallbacks.push_back(result.error().error.detail);
        }
    }
    auto extractive = co_await answer_extractive(request, sink, compute);
    if (!extractive) {
        auto failure = extractive.error();
        failure.upstream_attempts = attempts;
        failure.fallbacks = std::move(fallbacks);
        co_return failure;
    }
    extractive->upstream_attempts = attempts;
    extractive->fallbacks = std::move(fallbacks);
    co_return std::move(*extractive);
}

net::awaitable<AnswerResult<Answer>> Answerer::answer_extractive(const AnswerRequest& request,
                                                                 AnswerSink* sink,
                                                                 const ComputeRunner& compute) {
    GenerationRequest generation_request;
    generation_request.question = request.question;
    generation_request.passages = request.passages;
    generation_request.max_tokens = request.max_tokens;
    core::Result<Generation> generation = core::fail(core::ErrorCode::kInternal, "not run");
    const auto work = [this, &generation_request, &generation] {
        generation = extractive_.generate(generation_request);
    };
    if (compute) {
        if (!co_await compute(work)) {
            co_return AnswerFailure{
                core::Error(core::ErrorCode::kOverloaded,
                            "compute queue is full; the extractive answer was not attempted"),
                false,
                0,
                {}};
        }
    } else {
        work();
    }
    if (!generation) {
        co_return AnswerFailure{generation.error(), false, 0, {}};
    }
    Answer answer;
    answer.text = std::move(generation->text);
    answer.generator = generation->generator;
    answer.cited = std::move(generation->cited);
    if (sink != nullptr && !co_await sink->on_delta(answer.text)) {
        co_return AnswerFailure{
            core::Error(core::ErrorCode::kUnavailable, "client went away"), true, 0, {}};
    }
    co_return answer;
}

}  // namespace ragd::llm
