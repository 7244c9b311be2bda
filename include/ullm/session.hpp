// One conversation with a model: its KV cache, position and scratch memory.
// A Session is used by one thread at a time; many Sessions may share a Model.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "ullm/model.hpp"

namespace ullm {

enum class KvType {
  F16,  // llama.cpp's default; attention reproduces its flash-attention numerics
  F32,
};

inline constexpr int64_t kDefaultContextCap = 4096;

struct SessionOptions {
  // 0: the model's trained context length, capped at kDefaultContextCap.
  int64_t context_length = 0;
  int threads = 0;  // threads computing this session; 0: the machine's physical cores
  KvType kv_type = KvType::F16;
  // Allow a context_length past the model's trained context, as llama.cpp
  // does: positions there compute the same way, but the model never learnt
  // them, so what it says there is unreliable (benchmarks use it).
  bool beyond_trained_context = false;
};

class Session {
 public:
  // Throws InvalidArgument for a negative thread count, a context length
  // outside [1, the model's context length] (or below 1 with
  // beyond_trained_context), or a KV cache larger than the machine's
  // physical memory.
  explicit Session(const Model& model, const SessionOptions& options = {});
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Appends `tokens` at the current position and returns the logits that
  // predict the next token (vocab_size floats, valid until the next call).
  // Throws ContextOverflow if they do not fit, InvalidArgument for an empty
  // span or an id outside the vocabulary; the session is unchanged then.
  std::span<const float> eval(std::span<const Token> tokens);
  // Like eval, but returns logits for every position: tokens.size() rows of vocab_size.
  std::span<const float> eval_all(std::span<const Token> tokens);

  int64_t position() const;
  int64_t context_length() const;
  int threads() const;
  // Forgets the last n positions (throws InvalidArgument if n > position()).
  void rewind(int64_t n);
  const Model& model() const;

  struct State;

 private:
  std::span<const float> run(std::span<const Token> tokens, bool all_logits);
  std::unique_ptr<State> state_;
};

}  // namespace ullm
