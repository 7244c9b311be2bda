#include <fmt/format.h>
#include <chrono>

#include "ullm/error.hpp"
#include "ullm/generate.hpp"

namespace ullm {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool ends_with_stop(const std::string& text, const std::vector<std::string>& stops) {
  for (const auto& s : stops) {
    if (!s.empty() && text.size() >= s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

}  // namespace

GenerateResult generate(Session& session, std::string_view prompt, const GenerateOptions& options,
                        const TokenCallback& on_token) {
  const Tokenizer& tokenizer = session.model().tokenizer();
  GenerateResult result;
  result.prompt_tokens = tokenizer.encode(prompt, {.add_special = true, .parse_special = options.parse_special});
  if (result.prompt_tokens.empty()) {
    throw InvalidArgument("the prompt is empty and the vocabulary adds no BOS token: nothing to evaluate");
  }
  const auto free = session.context_length() - session.position();
  if (static_cast<int64_t>(result.prompt_tokens.size()) > free) {
    throw ContextOverflow(fmt::format("the prompt is {} tokens but only {} of the {}-token context are free",
                                      result.prompt_tokens.size(), free, session.context_length()));
  }

  Sampler sampler(options.sampler);
  std::vector<Token> history = result.prompt_tokens;
  auto start = std::chrono::steady_clock::now();
  std::span<const float> logits = session.eval(result.prompt_tokens);
  result.prompt_seconds = seconds_since(start);

  StreamingDecoder decoder(tokenizer);
  start = std::chrono::steady_clock::now();
  // Also checked before a sampled token is evaluated: the last token's
  // logits would go unused.
  const auto enough = [&] { return options.max_tokens >= 0 && std::ssize(result.tokens) >= options.max_tokens; };
  for (;;) {
    if (enough()) {
      result.stop_reason = StopReason::MaxTokens;
      break;
    }
    const Token token = sampler.sample(logits, history);
    if (options.stop_at_end_of_generation && tokenizer.is_end_of_generation(token)) {
      result.stop_reason = StopReason::EndOfGeneration;
      break;
    }
    result.tokens.push_back(token);
    history.push_back(token);
    const std::string text = decoder.push(token);
    result.text += text;
    if (on_token && !on_token(token, text)) {
      result.stop_reason = StopReason::Cancelled;
      break;
    }
    if (ends_with_stop(result.text, options.stop)) {
      result.stop_reason = StopReason::StopString;
      break;
    }
    if (session.position() >= session.context_length()) {
      result.stop_reason = StopReason::ContextFull;
      break;
    }
    if (enough()) continue;  // stops above, without evaluating the last token
    logits = session.eval(std::span<const Token>(&token, 1));
  }
  const std::string rest = decoder.finish();
  result.text += rest;
  if (!rest.empty() && on_token) on_token(-1, rest);
  result.generate_seconds = seconds_since(start);
  return result;
}

}  // namespace ullm
