#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "kernels/attention.hpp"
#include "model/model_data.hpp"
#include "runtime/session_state.hpp"
#include "ullm/error.hpp"

namespace ullm {

Session::Session(const Model& model, const SessionOptions& options) : state_(std::make_unique<State>(model)) {
  const ModelConfig& c = model.config();
  if (options.threads < 0 || options.threads > 1024) {
    throw InvalidArgument(
        fmt::format("threads must be in [0, 1024] (0: one per physical core), got {}", options.threads));
  }
  const int64_t ctx =
      options.context_length == 0 ? std::min(c.context_length, kDefaultContextCap) : options.context_length;
  if (ctx < 1 || (ctx > c.context_length && !options.beyond_trained_context)) {
    throw InvalidArgument(fmt::format("context length {} is outside [1, {}] (the model's trained context)",
                                      options.context_length, c.context_length));
  }
  const auto kv_bytes = static_cast<double>(ctx) * static_cast<double>(c.n_layer * c.n_head_kv * c.head_dim) * 2.0 *
                        (options.kv_type == KvType::F16 ? 2.0 : 4.0);
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  if (memory > 0 && kv_bytes > memory) {
    throw InvalidArgument(
        fmt::format("a KV cache for {} positions needs {:.1f} GiB, more than this machine's {:.1f} GiB; "
                    "ask for a shorter context",
                    ctx, kv_bytes / (1 << 30), memory / (1 << 30)));
  }
  State& s = *state_;
  s.options = options;
  s.options.threads = options.threads == 0 ? physical_cores() : options.threads;
  s.context_length = ctx;
  s.pool = std::make_unique<ThreadPool>(s.options.threads);
  const auto cache_size = static_cast<size_t>(ctx * c.n_head_kv * c.head_dim);
  const auto layers = static_cast<size_t>(c.n_layer);
  if (options.kv_type == KvType::F16) {
    s.k_f16.assign(layers, std::vector<uint16_t>(cache_size));
    s.v_f16.assign(layers, std::vector<uint16_t>(cache_size));
  } else {
    s.scores.resize(static_cast<size_t>(ctx * kernels::kF32AttentionQueries * s.options.threads));
    s.k_f32.assign(layers, std::vector<float>(cache_size));
    s.v_f32.assign(layers, std::vector<float>(cache_size));
  }
}

Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

std::span<const float> Session::eval(std::span<const Token> tokens) {
  return run(tokens, false);
}
std::span<const float> Session::eval_all(std::span<const Token> tokens) {
  return run(tokens, true);
}

std::span<const float> Session::run(std::span<const Token> tokens, bool all_logits) {
  State& s = *state_;
  const ModelConfig& c = s.model.config();
  if (tokens.empty()) throw InvalidArgument("eval needs at least one token");
  for (Token t : tokens) {
    if (t < 0 || t >= c.n_vocab) {
      throw InvalidArgument(fmt::format("token id {} is outside the vocabulary of {} tokens", t, c.n_vocab));
    }
  }
  const auto n = static_cast<int64_t>(tokens.size());
  if (n > s.context_length - s.position) {
    throw ContextOverflow(fmt::format("{} tokens do not fit: context holds {}, {} in use, {} free", n, s.context_length,
                                      s.position, s.context_length - s.position));
  }
  const int64_t rows = all_logits ? n : 1;
  if (s.logits.size() < static_cast<size_t>(rows * c.n_vocab)) s.logits.resize(static_cast<size_t>(rows * c.n_vocab));
  for (int64_t begin = 0; begin < n; begin += kMaxBatchTokens) {
    const int64_t count = std::min(kMaxBatchTokens, n - begin);
    const bool last = begin + count == n;
    const Logits wanted = all_logits ? Logits::kAll : last ? Logits::kLast : Logits::kNone;
    forward(s.model.data(), s, tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(count)), wanted,
            &s.logits[static_cast<size_t>(all_logits ? begin * c.n_vocab : 0)]);
    s.position += count;
  }
  return {s.logits.data(), static_cast<size_t>(rows * c.n_vocab)};
}

int64_t Session::position() const {
  return state_->position;
}
int64_t Session::context_length() const {
  return state_->context_length;
}
int Session::threads() const {
  return state_->options.threads;
}
const Model& Session::model() const {
  return state_->model;
}

void Session::rewind(int64_t n) {
  if (n < 0 || n > state_->position) {
    throw InvalidArgument(fmt::format("cannot rewind {} positions from position {}", n, state_->position));
  }
  state_->position -= n;
}

}  // namespace ullm
