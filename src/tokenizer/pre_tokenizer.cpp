// The pre-tokenizers' expressions are those of the models' tokenizer.json
// files as llama.cpp writes them (case-insensitive contractions spelled out
// as [sS], the final \s+ of GPT-2's expression left to the text-between-
// matches rule, which gives the same pieces).
#include "tokenizer/pre_tokenizer.hpp"

#include <fmt/format.h>

#include <array>

#include "tokenizer/unicode.hpp"
#include "ullm/error.hpp"

namespace ullm {
namespace {

constexpr std::string_view kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr std::string_view kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|)"
    R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|)"
    R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kCjk = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";

struct Family {
  std::array<std::string_view, 12> names;
  std::array<std::string_view, 6> expressions;
  bool ignore_merges = false;
  bool adds_bos = false;
};

const std::array kFamilies = {
    Family{{"default"}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}},
    Family{{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
           {kLlama3},
           true,
           true},
    Family{{"dbrx", "smaug-bpe"}, {kLlama3}},
    Family{{"qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", "grok-2", "kormo"}, {kQwen2}},
    Family{{"gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "exaone4", "gigachat", "a.x-4.0", "mellum",
            "granite-docling"},
           {kGpt2}},
    Family{{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"}, {R"(\p{N})", kGpt2}},
    Family{{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}},
    Family{{"deepseek-coder"}, {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"}},
    Family{{"deepseek-llm"},
           {"[\r\n]",
            "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
            "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
            "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
            "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
            "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe"
            "\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc"
            "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
            "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3"
            "\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06"
            "\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
            "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df"
            "\U0001e900-\U0001e943]+",
            "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+", R"(\s+$)", kCjk, R"(\p{N}+)"}},
    Family{{"deepseek-v3", "hunyuan-dense"},
           {R"(\p{N}{1,3})", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
            R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|)"
            R"( ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}},
    Family{{"bailingmoe", "bailingmoe2", "llada-moe"},
           {R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|)"
            R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)"}},
    Family{{"seed-coder"},
           {R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}|)"
            R"( ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)"}},
    Family{{"poro-chat", "bloom", "gpt3-finnish"}, {" ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"}},
    Family{{"viking"}, {" ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+", R"(\p{N})"}},
};

struct Range {
  size_t begin;
  size_t end;
};

}  // namespace

std::span<const std::string_view> PreTokenizer::known_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> all;
    for (const Family& family : kFamilies) {
      for (std::string_view name : family.names) {
        if (!name.empty()) all.push_back(name);
      }
    }
    return all;
  }();
  return names;
}

PreTokenizer PreTokenizer::named(std::string_view name) {
  const std::string_view wanted = name.empty() ? "default" : name;
  for (const Family& family : kFamilies) {
    for (std::string_view candidate : family.names) {
      if (candidate.empty() || candidate != wanted) continue;
      PreTokenizer pre;
      pre.name_ = std::string(wanted);
      for (std::string_view expression : family.expressions) {
        if (!expression.empty()) pre.expressions_.emplace_back(expression);
      }
      pre.ignore_merges_ = family.ignore_merges;
      pre.adds_bos_ = family.adds_bos;
      return pre;
    }
  }
  throw UnsupportedError(fmt::format("pre-tokenizer '{}' (tokenizer.ggml.pre) is not supported; known: {}", name,
                                     fmt::join(known_names(), ", ")));
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  const unicode::DecodedText decoded = unicode::decode_utf8(text);
  // llama.cpp matches these expressions with std::regex, whose \s knows
  // ASCII only, so it first turns every other White_Space character into
  // U+000B: such a character is \s, and nothing else (not in a literal range
  // such as deepseek-llm's \u3000-\u3002, nor \p{Z}). Matching the same
  // stand-ins gives the same pieces.
  std::vector<char32_t> code_points = decoded.code_points;
  for (char32_t& cp : code_points) {
    if (cp >= 0x80 && unicode::is_white_space(cp)) cp = 0x0b;
  }
  std::vector<Range> pieces;
  if (!code_points.empty()) pieces.push_back({0, code_points.size()});
  std::vector<Range> next;
  for (const Regex& expression : expressions_) {
    next.clear();
    for (const Range& piece : pieces) {
      Regex::Searcher searcher(expression,
                               std::span<const char32_t>(code_points).subspan(piece.begin, piece.end - piece.begin));
      size_t done = 0;
      while (const auto match = searcher.next(done)) {
        if (match->begin > done) next.push_back({piece.begin + done, piece.begin + match->begin});
        next.push_back({piece.begin + match->begin, piece.begin + match->end});
        done = match->end;
      }
      if (piece.begin + done < piece.end) next.push_back({piece.begin + done, piece.end});
    }
    pieces.swap(next);
  }
  std::vector<std::string_view> words;
  words.reserve(pieces.size());
  for (const Range& piece : pieces) {
    const size_t begin = decoded.byte_offsets[piece.begin];
    words.push_back(text.substr(begin, decoded.byte_offsets[piece.end] - begin));
  }
  return words;
}

}  // namespace ullm
