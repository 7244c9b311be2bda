#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "kernels/matmul.hpp"
#include "kernels/type_traits.hpp"
#include "model/model_data.hpp"
#include "runtime/huge_pages.hpp"
#include "runtime/thread_pool.hpp"
#include "ullm/error.hpp"

namespace ullm {
namespace {

// Finds tensors by name and checks their shape and type before any use.
class TensorBinder {
 public:
  TensorBinder(const gguf::File& file, const kernels::KernelTable& table) : file_(file), table_(table) {}

  const TensorView* optional(const std::string& name, std::initializer_list<int64_t> shape) const {
    const TensorView* t = file_.find_tensor(name);
    if (t == nullptr) return nullptr;
    check_shape(*t, shape);
    if (const auto* k = kernels::type_kernels(t->dtype); k == nullptr || k->dot == nullptr) {
      throw UnsupportedError(fmt::format("{}: tensor '{}' has type {}, which ullm cannot compute with yet",
                                         file_.path().string(), name, dtype_name(t->dtype)));
    }
    return t;
  }

  const TensorView* required(const std::string& name, std::initializer_list<int64_t> shape) const {
    const TensorView* t = optional(name, shape);
    if (t == nullptr) throw FormatError(fmt::format("{}: missing tensor '{}'", file_.path().string(), name));
    return t;
  }

  // Small vectors (norm weights, biases) are expanded to floats once at load;
  // an absent optional one is empty.
  std::vector<float> vector(const std::string& name, int64_t n, bool required = true) const {
    const TensorView* t = required ? this->required(name, {n}) : optional(name, {n});
    if (t == nullptr) return {};
    std::vector<float> out(static_cast<size_t>(n));
    kernels::dequantize_row(table_, *t, 0, out.data());
    return out;
  }

 private:
  void check_shape(const TensorView& t, std::initializer_list<int64_t> shape) const {
    bool ok = static_cast<size_t>(t.n_dims) == shape.size();
    for (size_t d = 0; ok && d < shape.size(); ++d) ok = t.shape[d] == shape.begin()[d];
    if (!ok) {
      std::string want = "[";
      for (size_t d = 0; d < shape.size(); ++d) want += fmt::format("{}{}", d ? ", " : "", shape.begin()[d]);
      throw FormatError(fmt::format("{}: tensor '{}' has shape {}, expected {}]", file_.path().string(), t.name,
                                    t.shape_string(), want));
    }
  }

  const gguf::File& file_;
  const kernels::KernelTable& table_;
};

// Rows [begin, begin + count) of a 2-D weight, as a weight of their own.
TensorView row_range(const TensorView& t, int64_t begin, int64_t count) {
  TensorView part = t;
  part.shape[1] = count;
  part.data = t.data + static_cast<size_t>(begin) * t.row_bytes();
  part.bytes = static_cast<size_t>(count) * t.row_bytes();
  return part;
}

}  // namespace

void RepackedWeights::make(const Model::Data& model) const {
  std::call_once(once_, [&] { make_now(model); });
}

// Copies every weight matrix the kernels read faster in panel order into
// that order (one buffer for all), in tasks of a few panels spread over all
// cores, whatever the session's thread count (the copy is a one-off). Each
// task releases the file pages it copied, so resident memory grows by
// little more than the tasks in flight. Token embeddings a tied output
// shares are released too: embedding lookups read a few of their rows from
// the file again, faulting back only those pages (kept resident, a whole
// gemma-3-270m Q8_0 table had added 178 MB, 0.6 of the file, to the peak).
void RepackedWeights::make_now(const Model::Data& m) const {
  std::vector<const TensorView*> matrices;
  for (const LayerWeights& L : m.layers) {
    for (const TensorView* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) matrices.push_back(w);
  }
  matrices.push_back(m.output);
  std::vector<const TensorView*> weights;
  for (const TensorView* w : matrices) {
    if (kernels::repacks(*m.kernels, *w)) weights.push_back(w);
  }
  if (weights.empty()) return;
  const auto aligned = [](size_t bytes) { return (bytes + 63) / 64 * 64; };
  size_t total = 0;
  for (const TensorView* w : weights) total += aligned(w->bytes);
  storage_ = huge_page_buffer(total);
  if (storage_ == nullptr) return;  // no memory for a copy: compute from the mapped file
  std::byte* out = storage_.get();
  copies_.clear();  // (a call that threw part way is made again from the start)
  struct Task {
    const TensorView* w;
    std::byte* out;
    int64_t begin, end;
  };
  std::vector<Task> tasks;
  for (const TensorView* w : weights) {
    copies_.emplace(w->data, out);
    // About 1 MiB of weights a task: few enough that the pages straddling
    // two tasks, which neither can release, add up to little.
    const int64_t height = kernels::panel_rows(*m.kernels, w->dtype);
    const int64_t step =
        std::max<int64_t>(height, (int64_t{1} << 20) / static_cast<int64_t>(w->row_bytes()) / height * height);
    for (int64_t r = 0; r < w->rows(); r += step) tasks.push_back({w, out, r, std::min(w->rows(), r + step)});
    out += aligned(w->bytes);
  }
  ThreadPool pool(physical_cores());
  pool.run(static_cast<int64_t>(tasks.size()), [&](int64_t i, int) {
    const Task& t = tasks[static_cast<size_t>(i)];
    kernels::repack_weights(*m.kernels, *t.w, t.out, t.begin, t.end);
    const size_t row_bytes = t.w->row_bytes();
    m.file.release(t.w->data + static_cast<size_t>(t.begin) * row_bytes,
                   static_cast<size_t>(t.end - t.begin) * row_bytes);
  });
  ready_.store(true, std::memory_order_release);
}

Model Model::load(const std::filesystem::path& path, const LoadOptions& options) {
  gguf::File file = gguf::File::open(path);
  ModelConfig config = read_config(file);
  Tokenizer tokenizer = Tokenizer::from_gguf(file);
  std::string target = options.kernel_target;
  if (const char* env = std::getenv("ULLM_ARCH"); target.empty() && env != nullptr) target = env;
  const kernels::KernelTable& table = kernels::select_kernel_table(target);
  auto data = std::make_shared<Data>(Data{
      std::move(file), std::move(config), std::move(tokenizer), nullptr, {}, {}, nullptr, {}, &table, {}, nullptr});
  // A forced target is what the caller asked for; only an automatic choice can be refused.
  if (target.empty()) data->refused_kernel_targets = kernels::refused_targets(table.name);
  Data& m = *data;
  ModelConfig& c = m.config;
  c.n_vocab = m.tokenizer.vocab_size();

  const TensorBinder bind(m.file, table);
  const int64_t q_width = c.n_head * c.head_dim;
  const int64_t kv_width = c.n_head_kv * c.head_dim;
  m.token_embd = bind.required("token_embd.weight", {c.n_embd, c.n_vocab});
  m.output_norm = bind.vector("output_norm.weight", c.n_embd);
  m.rope_factors = bind.vector("rope_freqs.weight", c.n_rot / 2, false);
  m.output = bind.optional("output.weight", {c.n_embd, c.n_vocab});
  c.tied_embeddings = m.output == nullptr;
  if (c.tied_embeddings) m.output = m.token_embd;

  m.layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    LayerWeights& L = m.layers[l];
    L.attn_norm = bind.vector(p + "attn_norm.weight", c.n_embd);
    if (c.fused_qkv) {
      const TensorView& qkv = *bind.required(p + "attn_qkv.weight", {c.n_embd, q_width + 2 * kv_width});
      L.wq = row_range(qkv, 0, q_width);
      L.wk = row_range(qkv, q_width, kv_width);
      L.wv = row_range(qkv, q_width + kv_width, kv_width);
    } else {
      L.wq = *bind.required(p + "attn_q.weight", {c.n_embd, q_width});
      L.wk = *bind.required(p + "attn_k.weight", {c.n_embd, kv_width});
      L.wv = *bind.required(p + "attn_v.weight", {c.n_embd, kv_width});
    }
    L.bq = bind.vector(p + "attn_q.bias", q_width, c.qkv_bias);
    L.bk = bind.vector(p + "attn_k.bias", kv_width, c.qkv_bias);
    L.bv = bind.vector(p + "attn_v.bias", kv_width, c.qkv_bias);
    if (c.qk_norm) {
      L.q_norm = bind.vector(p + "attn_q_norm.weight", c.head_dim);
      L.k_norm = bind.vector(p + "attn_k_norm.weight", c.head_dim);
    }
    L.wo = *bind.required(p + "attn_output.weight", {q_width, c.n_embd});
    L.ffn_norm = bind.vector(p + "ffn_norm.weight", c.n_embd);
    if (c.fused_gate_up) {
      const TensorView& gate_up = *bind.required(p + "ffn_up.weight", {c.n_embd, 2 * c.n_ff});
      L.ffn_gate = row_range(gate_up, 0, c.n_ff);
      L.ffn_up = row_range(gate_up, c.n_ff, c.n_ff);
    } else {
      L.ffn_gate = *bind.required(p + "ffn_gate.weight", {c.n_embd, c.n_ff});
      L.ffn_up = *bind.required(p + "ffn_up.weight", {c.n_embd, c.n_ff});
    }
    L.ffn_down = *bind.required(p + "ffn_down.weight", {c.n_ff, c.n_embd});
    if (c.post_norms) {
      L.attn_post_norm = bind.vector(p + "post_attention_norm.weight", c.n_embd);
      L.ffn_post_norm = bind.vector(p + "post_ffw_norm.weight", c.n_embd);
    }
  }
  if (options.repack_weights) m.repacked = std::make_unique<RepackedWeights>();
  return Model(std::move(data));
}

const ModelConfig& Model::config() const {
  return data_->config;
}
const Tokenizer& Model::tokenizer() const {
  return data_->tokenizer;
}
const gguf::File& Model::file() const {
  return data_->file;
}
const std::string& Model::kernel_target() const {
  return data_->kernels->name;
}
const std::vector<std::string>& Model::refused_kernel_targets() const {
  return data_->refused_kernel_targets;
}

}  // namespace ullm
