// The convenience loop: prompt in, streamed text out.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ullm/sampler.hpp"
#include "ullm/session.hpp"

namespace ullm {

struct GenerateOptions {
  int max_tokens = 128;  // < 0: until end of generation or a full context
  SamplerOptions sampler;
  std::vector<std::string> stop;  // stop once the text ends with one of these
  bool stop_at_end_of_generation = true;
  bool parse_special = true;  // in the prompt
};

enum class StopReason { MaxTokens, EndOfGeneration, StopString, ContextFull, Cancelled };

struct GenerateResult {
  std::vector<Token> prompt_tokens;
  std::vector<Token> tokens;  // generated
  std::string text;           // generated
  StopReason stop_reason = StopReason::MaxTokens;
  double prompt_seconds = 0;
  double generate_seconds = 0;
};

// Called with each generated token and the text it completed (possibly
// empty while a UTF-8 character is incomplete); return false to stop.
using TokenCallback = std::function<bool(Token token, std::string_view text)>;

// Tokenizes `prompt` (BOS as the vocabulary asks), evaluates it, and samples
// until a stop condition. The session then holds the prompt and every
// generated token but the last, which is never evaluated (its logits would
// go unused). Throws ContextOverflow if the prompt alone does not fit in the
// session's remaining context.
GenerateResult generate(Session& session, std::string_view prompt, const GenerateOptions& options,
                        const TokenCallback& on_token = {});

}  // namespace ullm
