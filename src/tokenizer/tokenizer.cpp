#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <optional>

#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/vocab.hpp"
#include "ullm/error.hpp"
#include "ullm/gguf.hpp"

namespace ullm {

struct Tokenizer::Impl {
  std::string model;
  Vocab vocab;
  std::optional<PreTokenizer> pre_tokenizer;  // byte-level BPE only
  bool byte_level() const { return pre_tokenizer.has_value(); }
};

namespace {

constexpr std::string_view kSpmSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space

std::string escape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == ' ') {
      out += kSpmSpace;
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
      out += ' ';
      i += kSpmSpace.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

// "<0xNN>" -> NN, or -1.
int parse_byte_token(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
  int v = 0;
  for (char c : s.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else
      return -1;
  }
  return v;
}

std::optional<int64_t> optional_int(const gguf::File& f, std::string_view key) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return std::nullopt;
  return v->as_int(key);
}

bool optional_bool(const gguf::File& f, std::string_view key, bool fallback) {
  const gguf::Value* v = f.find(key);
  return v == nullptr ? fallback : v->as_bool(key);
}

Token checked_id(const gguf::File& f, std::string_view key, Token fallback, int32_t n_vocab) {
  const auto id = optional_int(f, key);
  if (!id) return fallback < n_vocab ? fallback : -1;
  if (*id == -1) return -1;  // some converters write -1 for "none"
  if (*id < 0 || *id >= n_vocab) {
    throw FormatError(
        fmt::format("{}: {} = {} is outside the vocabulary of {} tokens", f.path().string(), key, *id, n_vocab));
  }
  return static_cast<Token>(*id);
}

// Defaults where the metadata is silent differ between the two tokenizer kinds.
struct VocabDefaults {
  Token bos, eos, unk;
  bool add_bos;
  bool add_space_prefix;
};

// llama.cpp finds end-of-generation and fill-in-the-middle tokens by their
// text and makes each a control token where the file did not (Gemma's
// <end_of_turn>, the "</s>" in Qwen2's vocabulary): that decides whether text
// spelling one tokenizes to it, and whether it renders. ullm applies the same
// lists and exceptions (llama.cpp's of 2026), and returns the
// end-of-generation tokens. Where llama.cpp takes the first of several
// spellings of one fill-in-the-middle role (in hash-map order), ullm takes
// every spelling present.
std::vector<Token> mark_control_looking_tokens(const gguf::File& f, Vocab& v) {
  struct FimRole {
    std::string_view key;                   // an id in the file replaces the search by text
    std::array<std::string_view, 8> texts;  // spellings, "" past the last
    bool ends_generation;
  };
  static constexpr std::array<FimRole, 6> kFimRoles = {{
      {"tokenizer.ggml.fim_pre_token_id",
       {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
        "<|prefix|>"},
       false},
      {"tokenizer.ggml.fim_suf_token_id",
       {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
        "<|suffix|>"},
       false},
      {"tokenizer.ggml.fim_mid_token_id",
       {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
        "<|middle|>"},
       false},
      {"tokenizer.ggml.fim_pad_token_id", {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}, true},
      {"tokenizer.ggml.fim_rep_token_id",
       {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"},
       true},
      {"tokenizer.ggml.fim_sep_token_id", {"<|file_sep|>"}, true},
  }};
  static constexpr std::string_view kEndTexts[] = {"<|eot_id|>",
                                                   "<|im_end|>",
                                                   "<|end|>",
                                                   "<|return|>",
                                                   "<|call|>",
                                                   "<|flush|>",
                                                   "<|calls|>",
                                                   "<end_of_turn>",
                                                   "<|endoftext|>",
                                                   "</s>",
                                                   "<|eom_id|>",
                                                   "<EOT>",
                                                   "_<EOT>",
                                                   "[EOT]",
                                                   "[EOS]",
                                                   "<|end_of_text|>",
                                                   "<end_of_utterance>",
                                                   "<eos>",
                                                   "<turn|>",
                                                   "<|tool_response>"};
  // gpt-oss's channel markers always render, control or not.
  static constexpr std::string_view kAlwaysRendered[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};

  std::vector<Token> ends;
  const auto add_end = [&](Token t) {
    if (t >= 0 && std::find(ends.begin(), ends.end(), t) == ends.end()) ends.push_back(t);
  };
  const auto make_control = [&](Token t) {
    if (t >= 0) v.type[t] = TokenType::Control;
  };
  for (const FimRole& role : kFimRoles) {
    if (f.find(role.key) != nullptr) {
      if (role.ends_generation) add_end(checked_id(f, role.key, -1, v.size()));
      continue;
    }
    for (std::string_view text : role.texts) {
      if (text.empty()) continue;
      const Token t = v.find(text);
      make_control(t);
      if (role.ends_generation) add_end(t);
    }
  }
  for (std::string_view text : kEndTexts) {
    const Token t = v.find(text);
    make_control(t);
    add_end(t);
  }
  for (std::string_view text : kAlwaysRendered) {
    if (const Token t = v.find(text); t >= 0) v.type[t] = TokenType::UserDefined;
  }
  // DeepSeek's end of sentence is an end-of-turn spelling only: it ends
  // generation where the file names no end-of-turn token.
  if (v.eot < 0) {
    const Token t = v.find("<｜end▁of▁sentence｜>");
    make_control(t);
    add_end(t);
  }
  for (Token t : {v.eos, v.eot, checked_id(f, "tokenizer.ggml.eom_token_id", -1, v.size())}) add_end(t);

  const auto ends_generation = [&](std::string_view text) {
    const Token t = v.find(text);
    return t >= 0 && std::find(ends.begin(), ends.end(), t) != ends.end();
  };
  const auto drop_end = [&](std::string_view text, TokenType type) {
    const Token t = v.find(text);
    ends.erase(std::remove(ends.begin(), ends.end(), t), ends.end());
    v.type[t] = type;
  };
  // In the harmony (gpt-oss) and solar-open formats <|end|> closes a message,
  // not the reply.
  const bool calls = ends_generation("<|call|>") || ends_generation("<|calls|>");
  if (ends_generation("<|end|>") && calls && (ends_generation("<|return|>") || ends_generation("<|flush|>"))) {
    drop_end("<|end|>", TokenType::UserDefined);
  }
  // Gemma 4 spells "</s>" as ordinary text.
  if (ends_generation("<|tool_response>") && ends_generation("</s>")) drop_end("</s>", TokenType::Normal);
  return ends;
}

Vocab load_vocab(const gguf::File& f, const VocabDefaults& defaults) {
  const std::string file = f.path().string();
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  if (tokens == nullptr) throw FormatError(fmt::format("{}: missing tokenizer.ggml.tokens", file));
  const auto& items = tokens->as_array("tokenizer.ggml.tokens").items;
  if (items.empty() || items.size() > (1u << 24)) {
    throw FormatError(fmt::format("{}: tokenizer.ggml.tokens has {} entries", file, items.size()));
  }
  Vocab v;
  const auto n = static_cast<int32_t>(items.size());
  v.text.reserve(n);
  for (const auto& item : items) v.text.push_back(item.as_string("tokenizer.ggml.tokens"));

  v.score.assign(n, 0.0f);
  if (const gguf::Value* scores = f.find("tokenizer.ggml.scores")) {
    const auto& s = scores->as_array("tokenizer.ggml.scores").items;
    if (static_cast<int32_t>(s.size()) != n) {
      throw FormatError(fmt::format("{}: tokenizer.ggml.scores has {} entries for {} tokens", file, s.size(), n));
    }
    for (int32_t i = 0; i < n; ++i) v.score[i] = static_cast<float>(s[i].as_double("tokenizer.ggml.scores"));
  }
  v.type.assign(n, TokenType::Normal);
  if (const gguf::Value* types = f.find("tokenizer.ggml.token_type")) {
    const auto& t = types->as_array("tokenizer.ggml.token_type").items;
    if (static_cast<int32_t>(t.size()) != n) {
      throw FormatError(fmt::format("{}: tokenizer.ggml.token_type has {} entries for {} tokens", file, t.size(), n));
    }
    for (int32_t i = 0; i < n; ++i) {
      const int64_t type = t[i].as_int("tokenizer.ggml.token_type");
      if (type < 0 || type > static_cast<int64_t>(TokenType::Byte)) {
        throw FormatError(fmt::format("{}: token {} has unknown token type {}", file, i, type));
      }
      v.type[i] = static_cast<TokenType>(type);
    }
  }
  v.id_of.reserve(n);
  for (int32_t i = 0; i < n; ++i) v.id_of[v.text[i]] = i;

  v.bos = checked_id(f, "tokenizer.ggml.bos_token_id", defaults.bos, n);
  v.eos = checked_id(f, "tokenizer.ggml.eos_token_id", defaults.eos, n);
  v.unk = checked_id(f, "tokenizer.ggml.unknown_token_id", defaults.unk, n);
  v.eot = checked_id(f, "tokenizer.ggml.eot_token_id", -1, n);
  v.add_bos = optional_bool(f, "tokenizer.ggml.add_bos_token", defaults.add_bos);
  v.add_eos = optional_bool(f, "tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = optional_bool(f, "tokenizer.ggml.add_space_prefix", defaults.add_space_prefix);
  if (v.add_bos && v.bos < 0) throw FormatError(fmt::format("{}: the vocabulary adds BOS but has none", file));
  if (v.add_eos && v.eos < 0) throw FormatError(fmt::format("{}: the vocabulary adds EOS but has none", file));

  v.byte_token.fill(-1);
  for (int32_t i = 0; i < n; ++i) {
    if (v.type[i] != TokenType::Byte) continue;
    const int b = parse_byte_token(v.text[i]);
    if (b >= 0) v.byte_token[b] = i;
  }
  v.end_of_generation = mark_control_looking_tokens(f, v);
  for (int32_t i = 0; i < n; ++i) {
    const TokenType t = v.type[i];
    if ((t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) && !v.text[i].empty()) {
      v.special_by_length.push_back(i);
    }
  }
  std::stable_sort(v.special_by_length.begin(), v.special_by_length.end(),
                   [&](Token a, Token b) { return v.text[a].size() > v.text[b].size(); });
  return v;
}

// tokenizer.ggml.merges: "left right" per entry, rank = position.
void load_merges(const gguf::File& f, Vocab& v) {
  const gguf::Value* merges = f.find("tokenizer.ggml.merges");
  if (merges == nullptr) {
    throw FormatError(fmt::format("{}: a byte-level BPE vocabulary needs tokenizer.ggml.merges", f.path().string()));
  }
  const auto& items = merges->as_array("tokenizer.ggml.merges").items;
  v.merge_rank.reserve(items.size());
  for (size_t rank = 0; rank < items.size(); ++rank) {
    const std::string& merge = items[rank].as_string("tokenizer.ggml.merges");
    // The separator is the first space after the first character: a left side may itself be a space.
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos || space + 1 == merge.size()) {
      throw FormatError(
          fmt::format("{}: tokenizer.ggml.merges[{}] = '{}' is not \"left right\"", f.path().string(), rank, merge));
    }
    v.merge_rank.try_emplace(merge, static_cast<int32_t>(rank));  // the first of duplicates keeps its rank
  }
}

// Phi-3's special tokens eat the whitespace after them (its Hugging Face
// tokenizer marks them rstrip). GGUF files do not carry the flag: llama.cpp
// keys it on general.name, and so does ullm, to give the same tokens.
void mark_right_stripping(const gguf::File& f, Vocab& v) {
  v.strips_right.assign(v.text.size(), false);
  const gguf::Value* name = f.find("general.name");
  if (name == nullptr) return;
  std::string lower = name->as_string("general.name");
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("phi-3") == std::string::npos && lower.find("phi3") == std::string::npos) return;
  for (Token id : v.special_by_length) v.strips_right[id] = true;
  const auto set = [&](std::string_view text, bool strips) {
    if (const Token id = v.find(text); id >= 0) v.strips_right[id] = strips;
  };
  set("</s>", true);
  for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) set(text, false);
}

// A piece of the input: raw text still to tokenize, or an already matched token.
struct Fragment {
  std::string_view text;
  Token token = -1;
};

// Splits raw fragments at every occurrence of each special token's text,
// longest special tokens first (llama.cpp's order).
std::vector<Fragment> split_specials(const Vocab& vocab, std::string_view text, bool parse_special) {
  std::vector<Fragment> fragments;
  if (!text.empty()) fragments.push_back({text});
  for (Token id : vocab.special_by_length) {
    const TokenType type = vocab.type[id];
    if (!parse_special && type != TokenType::UserDefined) continue;
    const std::string& special = vocab.text[id];
    std::vector<Fragment> next;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t start = 0;
      for (size_t hit; (hit = f.text.find(special, start)) != std::string_view::npos;) {
        if (hit > start) next.push_back({f.text.substr(start, hit - start)});
        next.push_back({{}, id});
        start = hit + special.size();
        if (vocab.strips_right[id]) {
          while (start < f.text.size() &&
                 std::string_view(" \t\n\r\v\f").find(f.text[start]) != std::string_view::npos) {
            ++start;
          }
        }
      }
      if (start < f.text.size()) next.push_back({f.text.substr(start)});
    }
    fragments = std::move(next);
  }
  return fragments;
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const gguf::File& file) {
  const gguf::Value* model = file.find("tokenizer.ggml.model");
  if (model == nullptr) throw FormatError(fmt::format("{}: missing tokenizer.ggml.model", file.path().string()));
  auto impl = std::make_shared<Impl>();
  impl->model = model->as_string("tokenizer.ggml.model");
  if (impl->model == "llama") {
    impl->vocab = load_vocab(file, {.bos = 1, .eos = 2, .unk = 0, .add_bos = true, .add_space_prefix = true});
  } else if (impl->model == "gpt2") {
    const gguf::Value* pre = file.find("tokenizer.ggml.pre");
    try {
      impl->pre_tokenizer = PreTokenizer::named(pre == nullptr ? "" : pre->as_string("tokenizer.ggml.pre"));
    } catch (const UnsupportedError& e) {
      throw UnsupportedError(fmt::format("{}: {}", file.path().string(), e.what()));
    }
    impl->vocab = load_vocab(file, {.bos = -1,
                                    .eos = -1,
                                    .unk = -1,
                                    .add_bos = impl->pre_tokenizer->adds_bos_by_default(),
                                    .add_space_prefix = false});
    load_merges(file, impl->vocab);
  } else {
    throw UnsupportedError(fmt::format("{}: tokenizer model '{}' is not supported (supported: llama, gpt2)",
                                       file.path().string(), impl->model));
  }
  mark_right_stripping(file, impl->vocab);
  return Tokenizer(std::move(impl));
}

std::vector<Token> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  const Vocab& v = impl_->vocab;
  std::vector<Token> out;
  if (options.add_special && v.add_bos && v.bos >= 0) out.push_back(v.bos);
  bool after_special = true;  // the text start counts as following a special token
  for (const Fragment& f : split_specials(v, text, options.parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    if (impl_->byte_level()) {
      // Bytes that are not UTF-8 become U+FFFD first, as in llama.cpp.
      const std::string valid = unicode::normalize_utf8(f.text);
      const PreTokenizer& pre = *impl_->pre_tokenizer;
      for (std::string_view word : pre.split(valid)) bpe_encode(v, word, pre.ignore_merges(), out);
    } else {
      std::string raw;
      if (v.add_space_prefix && after_special) raw.push_back(' ');
      raw += f.text;
      spm_encode(v, escape_spaces(raw), out);
    }
    after_special = false;
  }
  if (options.add_special && v.add_eos) out.push_back(v.eos);
  return out;
}

std::string Tokenizer::piece(Token token, bool render_special) const {
  const Vocab& v = impl_->vocab;
  if (token < 0 || token >= v.size()) {
    throw InvalidArgument(fmt::format("token id {} is outside the vocabulary of {} tokens", token, v.size()));
  }
  switch (v.type[token]) {
    case TokenType::Normal:
      return impl_->byte_level() ? byte_level_decode(v.text[token]) : unescape_spaces(v.text[token]);
    case TokenType::UserDefined:
      return impl_->byte_level() ? v.text[token] : unescape_spaces(v.text[token]);
    case TokenType::Unknown:  // rendered as control tokens are, as llama.cpp does
    case TokenType::Control:
      return render_special ? v.text[token] : std::string();
    case TokenType::Byte: {
      const int b = parse_byte_token(v.text[token]);
      return b >= 0 ? std::string(1, static_cast<char>(b)) : std::string();
    }
    case TokenType::Undefined:
    case TokenType::Unused:
      return {};
  }
  return {};
}

std::string Tokenizer::decode(std::span<const Token> tokens, const DecodeOptions& options) const {
  std::string out;
  size_t first = 0;
  if (!tokens.empty() && tokens[0] == impl_->vocab.bos && !options.render_special) first = 1;
  for (size_t i = first; i < tokens.size(); ++i) {
    std::string p = piece(tokens[i], options.render_special);
    if (i == first && options.strip_leading_space && impl_->vocab.add_space_prefix && !p.empty() && p[0] == ' ') {
      p.erase(0, 1);
    }
    out += p;
  }
  return out;
}

int32_t Tokenizer::vocab_size() const {
  return impl_->vocab.size();
}
Token Tokenizer::bos() const {
  return impl_->vocab.bos;
}
Token Tokenizer::eos() const {
  return impl_->vocab.eos;
}
bool Tokenizer::adds_bos() const {
  return impl_->vocab.add_bos && impl_->vocab.bos >= 0;
}
std::string_view Tokenizer::model_name() const {
  return impl_->model;
}

bool Tokenizer::is_end_of_generation(Token token) const {
  const auto& e = impl_->vocab.end_of_generation;
  return std::find(e.begin(), e.end(), token) != e.end();
}

bool Tokenizer::is_control(Token token) const {
  return token >= 0 && token < impl_->vocab.size() && impl_->vocab.type[token] == TokenType::Control;
}

const std::string& Tokenizer::token_text(Token token) const {
  if (token < 0 || token >= impl_->vocab.size()) {
    throw InvalidArgument(fmt::format("token id {} is outside the vocabulary of {} tokens", token, vocab_size()));
  }
  return impl_->vocab.text[token];
}

}  // namespace ullm
