// The decoder forward pass, top to bottom: embeddings, then per layer
// RMSNorm -> Q/K/V (+ biases, per-head q/k RMSNorm where the architecture has
// them) -> RoPE -> attention over the KV cache (or its last window) -> output
// projection (-> RMSNorm) -> residual, RMSNorm -> SwiGLU or GELU-gated
// feed-forward (-> RMSNorm) -> residual; then the final norm and the output
// head. ModelConfig says which options a model takes; all arithmetic happens
// in kernels/.
#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <utility>

#include "kernels/activation.hpp"
#include "kernels/attention.hpp"
#include "kernels/fp16.hpp"
#include "kernels/matmul.hpp"
#include "kernels/norm.hpp"
#include "kernels/rope.hpp"
#include "model/model_data.hpp"
#include "runtime/session_state.hpp"

namespace ullm {
namespace {

// Values a task of per-row work (norms, RoPE, gated activations, activation
// conversion) covers, so that it outlasts waking a worker: 10-80
// microseconds of such work.
constexpr int64_t kMinRowTaskValues = int64_t{1} << 14;

// fn(t) for every row t in [0, rows), each `width` values wide: across the
// pool in chunks of rows when there is that much work (a prompt), else on
// this thread (a decode step's one row). Rows are independent, so results
// do not depend on the split.
template <typename F>
void for_each_row(ThreadPool& pool, int64_t rows, int64_t width, const F& fn) {
  const int64_t chunk = std::max<int64_t>(1, kMinRowTaskValues / std::max<int64_t>(1, width));
  if (pool.size() == 1 || rows <= chunk) {
    for (int64_t t = 0; t < rows; ++t) fn(t);
    return;
  }
  pool.run((rows + chunk - 1) / chunk, [&](int64_t task, int) {
    for (int64_t t = task * chunk; t < std::min(rows, (task + 1) * chunk); ++t) fn(t);
  });
}

using Projection = std::pair<const TensorView*, float*>;

// Multiplies one input by several weights, converting the input once per
// activation format rather than once per weight. Weights that share a
// conversion run as one parallel loop over all their row chunks: one wait
// for the threads instead of one per weight (a decode step of a small model
// is mostly such waits). Every row is computed whole by one thread, so
// results do not depend on the thread count.
void project(const Model::Data& model, ThreadPool& pool, std::initializer_list<Projection> projections, const float* x,
             int64_t n_tokens, kernels::PreparedActivations& act) {
  struct Part {
    const TensorView* w;
    float* y;
    const std::byte* repacked;
    int64_t chunk;
    int64_t tasks;
  };
  const kernels::KernelTable& table = *model.kernels;
  std::array<Part, 3> parts;  // the most projections of one input (q, k, v)
  auto next = projections.begin();
  while (next != projections.end()) {
    act.prepare(table, next->first->dtype, x, n_tokens, next->first->row_length(),
                [&](int64_t rows, int64_t width, const std::function<void(int64_t)>& convert) {
                  for_each_row(pool, rows, width, convert);
                });
    size_t n_parts = 0;
    int64_t all_tasks = 0;
    for (; next != projections.end() &&
           (n_parts == 0 || act.suits_fully(table, next->first->dtype, next->first->row_length()));
         ++next) {
      const auto [w, y] = *next;
      const int64_t chunk = kernels::matmul_rows_per_task(w->rows(), w->row_length(), n_tokens, pool.size());
      parts.at(n_parts++) = {w, y, model.repacked_copy(*w), chunk, (w->rows() + chunk - 1) / chunk};
      all_tasks += parts[n_parts - 1].tasks;
    }
    const auto task = [&](int64_t i, int) {
      const Part* part = parts.data();
      for (; i >= part->tasks; ++part) i -= part->tasks;
      const int64_t begin = i * part->chunk;
      kernels::matmul_rows(table, *part->w, act, part->y, begin, std::min(part->w->rows(), begin + part->chunk),
                           part->repacked);
    };
    // Weights too small to split stay on this thread: waking a worker for
    // their few microseconds cost stories260K decode on two threads 10.5k ->
    // 1.7k tok/s in ullm-run.
    if (all_tasks == static_cast<int64_t>(n_parts)) {
      for (int64_t t = 0; t < all_tasks; ++t) task(t, 0);
    } else {
      pool.run(all_tasks, task);
    }
  }
}

// RMSNorm of each of `rows` rows in place, if the layer has the weight.
void post_norm(const kernels::KernelTable& ops, ThreadPool& pool, const std::vector<float>& weight, int64_t rows,
               int64_t width, float eps, float* x) {
  if (weight.empty()) return;
  for_each_row(pool, rows, width,
               [&](int64_t t) { ops.rows.rms_norm(x + t * width, weight.data(), width, eps, x + t * width); });
}

void grow(std::vector<float>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
}

// The query heads of a layer's attention in parts for threads: a KV head's
// query heads together (they share its key and value reads), unless `blocks`
// blocks of tokens times the KV heads give fewer units than threads (a
// decode step, or a short prompt, of a model with few KV heads), when each
// KV head's query heads split into up to `group` slices (a head computes the
// same alone, tested).
struct HeadParts {
  int64_t group, slices, count;  // count: parts of all heads
  HeadParts(const ModelConfig& c, int64_t blocks, int threads)
      : group(c.n_head / c.n_head_kv),
        slices(std::clamp<int64_t>((threads + blocks * c.n_head_kv - 1) / (blocks * c.n_head_kv), 1, group)),
        count(c.n_head_kv * slices) {}
  // The first query head of part `part` (of `count` the end).
  int64_t first_head(int64_t part) const { return part / slices * group + part % slices * group / slices; }
};

// Attention of T tokens at positions s.position.. over layer l's cache, with
// the one-token kernels: the F32 cache's exact softmax, or the F16 cache's
// f16 sums (ggml's one-chunk flash attention, which llama.cpp runs for
// batches under kTiledAttentionTokens). Tokens a block of kAttendTokens and
// the query heads of a KV head (HeadParts) stay together: the f16 kernel
// sums the vectors that share a KV head side by side (without grouped
// queries, one token's successive heads); the f32 kernel scores a block's
// tokens, or a token's heads of a KV head, from one read of each key.
void attend_few_tokens(const Model::Data& model, Session::State& s, int64_t l, const kernels::AttentionShape& shape,
                       int64_t T, bool sliding) {
  const ModelConfig& c = model.config;
  constexpr int64_t kAttendTokens = 4;
  const int64_t q_width = c.n_head * c.head_dim;
  const int64_t p0 = s.position;
  const auto first_visible = [&](int64_t t) {
    const int64_t visible = p0 + t + 1;
    return sliding ? std::max<int64_t>(0, visible - c.sliding_window) : 0;
  };
  // Tokens [t0, t_end) and query heads [h_begin, h_end); the f16 kernel
  // takes tokens together while they see rows from the same first one.
  const auto attend = [&](int64_t t0, int64_t t_end, int64_t h_begin, int64_t h_end, int thread) {
    if (s.options.kv_type == KvType::F32) {
      kernels::attend_f32_cache(*model.kernels, shape, &s.q[t0 * q_width], t_end - t0, s.k_f32[l].data(),
                                s.v_f32[l].data(), p0 + t0 + 1, sliding ? c.sliding_window : 0, h_begin, h_end,
                                &s.scores[thread * kernels::kF32AttentionQueries * s.context_length],
                                &s.attn[t0 * q_width]);
      return;
    }
    for (int64_t t = t0; t < t_end;) {
      int64_t u = t + 1;
      while (u < t_end && first_visible(u) == first_visible(t)) ++u;
      kernels::attend_f16_cache(*model.kernels, shape, &s.q[t * q_width], s.k_f16[l].data(), s.v_f16[l].data(),
                                first_visible(t), p0 + t + 1, h_begin, h_end, &s.attn[t * q_width], u - t, q_width);
      t = u;
    }
  };
  // Units of (token block, part of the heads); a task takes enough units to
  // be worth a thread.
  const int64_t blocks = (T + kAttendTokens - 1) / kAttendTokens;
  const HeadParts parts(c, blocks, s.pool->size());
  const int64_t units = blocks * parts.count;
  const int64_t unit_macs =
      std::max<int64_t>(1, 2 * (p0 + T) * c.head_dim * (parts.group / parts.slices) * std::min(T, kAttendTokens));
  const int64_t per_task = std::clamp<int64_t>(kernels::kMinTaskMacs / unit_macs, 1, units);
  s.pool->run((units + per_task - 1) / per_task, [&](int64_t task, int thread) {
    const int64_t end = std::min(units, (task + 1) * per_task);
    for (int64_t i = task * per_task; i < end;) {
      const int64_t b = i / parts.count, part = i % parts.count;
      const int64_t part_end = std::min(parts.count, part + (end - i));
      attend(b * kAttendTokens, std::min(T, (b + 1) * kAttendTokens), parts.first_head(part),
             parts.first_head(part_end), thread);
      i += part_end - part;
    }
  });
}

}  // namespace

// Steps that first make the panel-order weight copies (RepackedWeights):
// those of few tokens (decode), which read panel order twice as fast as the
// file, and longer prompts, for which reading the file costs more than the
// copy (which takes 0.14 s for TinyLlama Q4_0 on Zen 5, 0.3 s on Zen 1;
// prompts read the file 0-9 % slower for Q4_0, up to 25 % for Q4_K). A short
// prompt in between reads the file, so a reply's first token does not wait
// for the copy.
constexpr int64_t kRepackBelowTokens = 16;
constexpr int64_t kRepackFromTokens = 64;

void forward(const Model::Data& model, Session::State& s, std::span<const Token> tokens, Logits wanted, float* logits) {
  const ModelConfig& c = model.config;
  const kernels::KernelTable& ops = *model.kernels;
  const auto T = static_cast<int64_t>(tokens.size());
  if (model.repacked != nullptr && (T < kRepackBelowTokens || T >= kRepackFromTokens)) {
    model.repacked->make(model);
  }
  const int64_t E = c.n_embd;
  const int64_t q_width = c.n_head * c.head_dim;
  const int64_t kv_width = c.n_head_kv * c.head_dim;
  const int64_t p0 = s.position;
  const bool f16_cache = s.options.kv_type == KvType::F16;
  const auto rope_style = c.rope_neox ? kernels::RopeStyle::Neox : kernels::RopeStyle::Adjacent;
  const float attention_scale =
      c.attention_scale != 0.0f ? c.attention_scale : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const kernels::AttentionShape shape{c.n_head, c.n_head_kv, c.head_dim, attention_scale};

  grow(s.x, T * E);
  grow(s.xn, T * E);
  grow(s.q, T * q_width);
  grow(s.k, T * kv_width);
  grow(s.v, T * kv_width);
  grow(s.attn, T * q_width);
  grow(s.proj, T * E);
  grow(s.gate, T * c.n_ff);
  grow(s.up, T * c.n_ff);

  for (int64_t t = 0; t < T; ++t) {
    kernels::dequantize_row(ops, *model.token_embd, tokens[t], &s.x[t * E]);
    if (c.embedding_scale != 1.0f) kernels::scale_inplace(&s.x[t * E], c.embedding_scale, E);
  }
  int64_t rows = T;  // rows still carried through the layers

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = model.layers[l];
    const bool sliding = c.is_sliding(l);
    const kernels::RopeFrequencies rope_freq{sliding ? c.rope_freq_base_swa : c.rope_freq_base, c.rope_freq_scale,
                                             model.rope_factors.empty() ? nullptr : model.rope_factors.data()};

    for_each_row(*s.pool, T, E,
                 [&](int64_t t) { ops.rows.rms_norm(&s.x[t * E], L.attn_norm.data(), E, c.norm_eps, &s.xn[t * E]); });
    project(model, *s.pool, {{&L.wq, s.q.data()}, {&L.wk, s.k.data()}, {&L.wv, s.v.data()}}, s.xn.data(), T,
            s.activations);

    for_each_row(*s.pool, T, q_width + 2 * kv_width, [&](int64_t t) {
      float* q = &s.q[t * q_width];
      float* k = &s.k[t * kv_width];
      if (!L.bq.empty()) kernels::add_inplace(q, L.bq.data(), q_width);
      if (!L.bk.empty()) kernels::add_inplace(k, L.bk.data(), kv_width);
      if (!L.bv.empty()) kernels::add_inplace(&s.v[t * kv_width], L.bv.data(), kv_width);
      if (!L.q_norm.empty()) {
        for (int64_t h = 0; h < c.n_head; ++h) {
          ops.rows.rms_norm(q + h * c.head_dim, L.q_norm.data(), c.head_dim, c.norm_eps, q + h * c.head_dim);
        }
        for (int64_t h = 0; h < c.n_head_kv; ++h) {
          ops.rows.rms_norm(k + h * c.head_dim, L.k_norm.data(), c.head_dim, c.norm_eps, k + h * c.head_dim);
        }
      }
      const int64_t pos = p0 + t;
      kernels::rope(ops, q, c.n_head, c.head_dim, c.n_rot, pos, rope_freq, rope_style);
      kernels::rope(ops, k, c.n_head_kv, c.head_dim, c.n_rot, pos, rope_freq, rope_style);
      if (c.query_scale != 1.0f) kernels::scale_inplace(q, c.query_scale, q_width);
      if (f16_cache) {
        ops.to_f16(&s.k[t * kv_width], &s.k_f16[l][pos * kv_width], kv_width);
        ops.to_f16(&s.v[t * kv_width], &s.v_f16[l][pos * kv_width], kv_width);
      } else {
        std::copy_n(&s.k[t * kv_width], kv_width, &s.k_f32[l][pos * kv_width]);
        std::copy_n(&s.v[t * kv_width], kv_width, &s.v_f32[l][pos * kv_width]);
      }
    });
    if (wanted == Logits::kNone && l == c.n_layer - 1) return;  // the cache is all that is asked for
    // Causal: token t sees the cache up to and including its own position
    // (on a sliding-window layer, only the last `sliding_window` of those).
    if (f16_cache && T >= kernels::kTiledAttentionTokens) {
      // llama.cpp's tiled kernel for batches this long: (block of kKvTile
      // tokens, part of the heads) units, the last blocks (the most rows)
      // first.
      const int64_t blocks = (T + kernels::kKvTile - 1) / kernels::kKvTile;
      const HeadParts parts(c, blocks, s.pool->size());
      const int64_t window = sliding ? c.sliding_window : 0;
      s.pool->run(blocks * parts.count, [&](int64_t task, int) {
        const int64_t t0 = (blocks - 1 - task / parts.count) * kernels::kKvTile, part = task % parts.count;
        kernels::attend_f16_cache_tiled(ops, shape, &s.q[t0 * q_width], s.k_f16[l].data(), s.v_f16[l].data(),
                                        p0 + t0 + 1, window, parts.first_head(part), parts.first_head(part + 1),
                                        std::min(kernels::kKvTile, T - t0), q_width, &s.attn[t0 * q_width]);
      });
    } else {
      attend_few_tokens(model, s, l, shape, T, sliding);
    }
    // Past the last attention only the rows whose logits are wanted matter:
    // keep just those (as llama.cpp does, so its one-token kernels apply).
    if (l == c.n_layer - 1 && wanted == Logits::kLast && rows > 1) {
      std::copy_n(&s.attn[(rows - 1) * q_width], q_width, s.attn.begin());
      std::copy_n(&s.x[(rows - 1) * E], E, s.x.begin());
      rows = 1;
    }
    project(model, *s.pool, {{&L.wo, s.proj.data()}}, s.attn.data(), rows, s.activations);
    post_norm(ops, *s.pool, L.attn_post_norm, rows, E, c.norm_eps, s.proj.data());
    kernels::add_inplace(s.x.data(), s.proj.data(), rows * E);

    for_each_row(*s.pool, rows, E,
                 [&](int64_t t) { ops.rows.rms_norm(&s.x[t * E], L.ffn_norm.data(), E, c.norm_eps, &s.xn[t * E]); });
    project(model, *s.pool, {{&L.ffn_gate, s.gate.data()}, {&L.ffn_up, s.up.data()}}, s.xn.data(), rows, s.activations);
    for_each_row(*s.pool, rows, c.n_ff, [&](int64_t t) {
      float* gate = &s.gate[t * c.n_ff];
      const float* up = &s.up[t * c.n_ff];
      if (c.gelu_ffn) {
        kernels::geglu(ops, gate, up, c.n_ff, gate);
      } else {
        ops.rows.swiglu(gate, up, c.n_ff, gate);
      }
    });
    project(model, *s.pool, {{&L.ffn_down, s.proj.data()}}, s.gate.data(), rows, s.activations);
    post_norm(ops, *s.pool, L.ffn_post_norm, rows, E, c.norm_eps, s.proj.data());
    kernels::add_inplace(s.x.data(), s.proj.data(), rows * E);
  }

  for_each_row(*s.pool, rows, E, [&](int64_t t) {
    ops.rows.rms_norm(&s.x[t * E], model.output_norm.data(), E, c.norm_eps, &s.xn[t * E]);
  });
  project(model, *s.pool, {{model.output, logits}}, s.xn.data(), rows, s.activations);
}

}  // namespace ullm
