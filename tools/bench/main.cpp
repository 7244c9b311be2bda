// ullm-bench: prompt-processing (pp) and generation (tg) speed, in the shape
// of llama-bench's table and JSON so the two tools can be compared by script.
#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "cli.hpp"
#include "ullm/ullm.hpp"

namespace {

std::vector<int> parse_list(const std::string& text, const std::string& flag) {
  std::vector<int> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v < 0) {
      throw ullm::InvalidArgument(fmt::format("{}: '{}' is not a non-negative integer list", flag, text));
    }
    out.push_back(v);
  }
  if (out.empty()) throw ullm::InvalidArgument(fmt::format("{}: empty list", flag));
  return out;
}

// llama.cpp's name for the file's type; where the file does not say, guessed
// from its most common tensor type, as llama.cpp guesses.
std::string file_type_name(const ullm::gguf::File& f) {
  static const std::pair<int, const char*> kNames[] = {
      {0, "all F32"}, {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
      {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
      {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {32, "BF16"}};
  if (const auto* v = f.find("general.file_type"); v != nullptr && v->is_integer()) {
    const int64_t t = v->as_int("general.file_type");
    for (const auto& [id, name] : kNames) {
      if (id == t) return name;
    }
    return "?";
  }
  std::map<ullm::DType, int> counts;
  for (const ullm::TensorView& t : f.tensors()) ++counts[t.dtype];
  if (counts.empty()) return "?";
  const auto most =
      std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  const std::string type(ullm::dtype_name(most->first));
  return fmt::format("{}{} (guessed)", most->first == ullm::DType::F32 ? "all " : "", type);
}

std::string params_name(int64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.1f}B", static_cast<double>(n) / 1e9);
  if (n >= 1'000'000) return fmt::format("{}M", (n + 500'000) / 1'000'000);
  return fmt::format("{:.2f}M", static_cast<double>(n) / 1e6);
}

// A test as llama-bench runs it: a prompt, a generation or both, after
// n_depth tokens already in the context.
struct Test {
  int n_prompt, n_gen, n_depth;
};

struct Result {
  int threads;
  Test test;
  std::vector<double> samples;  // tokens per second
  double mean() const { return std::accumulate(samples.begin(), samples.end(), 0.0) / samples.size(); }
  double stddev() const {
    if (samples.size() < 2) return 0;
    const double m = mean();
    double s = 0;
    for (double x : samples) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(samples.size() - 1));
  }
};

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Random tokens, led by BOS where the model has one, as llama-bench makes
// its prompts.
std::vector<ullm::Token> random_prompt(const ullm::Model& model, int n, std::mt19937& rng) {
  std::uniform_int_distribution<ullm::Token> random_token(0, static_cast<ullm::Token>(model.config().n_vocab - 1));
  std::vector<ullm::Token> tokens(static_cast<size_t>(n));
  for (ullm::Token& t : tokens) t = random_token(rng);
  if (n > 0 && model.tokenizer().bos() >= 0) tokens[0] = model.tokenizer().bos();
  return tokens;
}

// One measurement, as llama-bench takes it: the session emptied (one
// session serves a test's runs, as llama-bench keeps one context, so buffers
// are not allocated again inside the timing), filled with n_depth tokens
// (not timed), then a prompt of n_prompt tokens in one eval and n_gen evals
// of one token each (one of them, or both for a -pg test), each of the two
// starting with BOS where the model has one. Tokens per second over both.
double run_once(ullm::Session& session, int n_prompt, int n_gen, int n_depth, std::mt19937& rng) {
  const ullm::Model& model = session.model();
  session.rewind(session.position());
  if (n_depth > 0) session.eval(random_prompt(model, n_depth, rng));
  const std::vector<ullm::Token> prompt = random_prompt(model, n_prompt, rng);
  const std::vector<ullm::Token> generated = random_prompt(model, n_gen, rng);
  const auto start = std::chrono::steady_clock::now();
  if (n_prompt > 0) session.eval(prompt);
  for (const ullm::Token& t : generated) session.eval(std::span<const ullm::Token>(&t, 1));
  return (n_prompt + n_gen) / seconds(start);
}

// s as the contents of a JSON string.
std::string json_escaped(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(ch));
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, prompts = "512", gens = "128", depths = "0", prompt_gen, threads_list, target,
                          kv_type = "f16", output = "md";
  int repetitions = 5;
  bool json = false, no_repack = false;
  ullm::cli::ArgParser args("ullm-bench", "Measure prompt processing (pp) and generation (tg) speed in tokens/s.");
  args.option({"-m", "--model"}, &model_path, "PATH",
              fmt::format("model file (default: $ULLM_MODEL, else {})", ullm::cli::kDefaultModel));
  args.option({"-p", "--n-prompt"}, &prompts, "N[,N...]", "prompt lengths to test, 0 to skip (default: 512)");
  args.option({"-n", "--n-gen"}, &gens, "N[,N...]", "generation lengths to test, 0 to skip (default: 128)");
  args.option({"-pg"}, &prompt_gen, "P,G", "also a prompt of P tokens then G generated, timed together (test ppP+tgG)");
  args.option({"-d", "--n-depth"}, &depths, "N[,N...]",
              "tokens in the context before each test, not timed (default: 0)");
  args.option({"-t", "--threads"}, &threads_list, "N[,N...]",
              "thread counts, 0 for one per physical core (default: 0)");
  args.option({"-r", "--repetitions"}, &repetitions, "N", "measurements per test (default: 5)");
  args.option({"--kernels"}, &target, "TARGET", "kernel target: scalar, sse4, avx2, avxvnni, avx512 (default: best)");
  args.option({"-ctk", "--kv-type"}, &kv_type, "TYPE", "KV cache type: f16 or f32 (default: f16, as llama-bench's)");
  args.option({"-o", "--output"}, &output, "FORMAT",
              "md (a table), json (an array) or jsonl (an object a line, as each test ends); the JSON has "
              "llama-bench's field names (default: md)");
  args.flag({"--json"}, &json, "the same as -o json");
  args.flag({"--no-repack"}, &no_repack, "compute from the mapped file only: faster load, slower decode");
  args.parse(argc, argv);
  if (repetitions < 1) args.usage_error("--repetitions must be at least 1");
  if (json) output = "json";
  if (output != "md" && output != "json" && output != "jsonl") {
    args.usage_error(fmt::format("--output must be md, json or jsonl, not '{}'", output));
  }
  const ullm::KvType cache = ullm::cli::parse_kv_type(args, kv_type);

  return ullm::cli::run_main("ullm-bench", [&] {
    const std::string path = ullm::cli::resolve_model_path(model_path);
    const ullm::Model model =
        ullm::cli::load_model("ullm-bench", path, {.kernel_target = target, .repack_weights = !no_repack});
    // 0 threads, as the default: one per physical core.
    const int default_threads = ullm::Session(model, {.context_length = 1}).threads();
    std::vector<int> threads = threads_list.empty() ? std::vector<int>{0} : parse_list(threads_list, "--threads");
    for (int& t : threads) t = t == 0 ? default_threads : t;
    std::vector<Test> tests;
    const std::vector<int> depth_list = parse_list(depths, "--n-depth");
    for (int p : parse_list(prompts, "--n-prompt")) {
      for (int d : depth_list) {
        if (p > 0) tests.push_back({p, 0, d});
      }
    }
    for (int n : parse_list(gens, "--n-gen")) {
      for (int d : depth_list) {
        if (n > 0) tests.push_back({0, n, d});
      }
    }
    if (!prompt_gen.empty()) {
      const std::vector<int> pg = parse_list(prompt_gen, "-pg");
      if (pg.size() != 2 || pg[0] == 0 || pg[1] == 0) {
        throw ullm::InvalidArgument(fmt::format("-pg: '{}' is not two positive counts P,G", prompt_gen));
      }
      for (int d : depth_list) tests.push_back({pg[0], pg[1], d});
    }
    if (tests.empty()) throw ullm::InvalidArgument("nothing to measure: every --n-prompt and --n-gen is 0");
    const int64_t longest = std::accumulate(tests.begin(), tests.end(), int64_t{0}, [](int64_t m, const Test& test) {
      return std::max(m, int64_t{test.n_depth} + test.n_prompt + test.n_gen);
    });
    if (longest > model.config().context_length) {
      fmt::print(stderr,
                 "ullm-bench: note: tests of up to {} tokens run past the model's trained context of {} (as "
                 "llama-bench lets them): the speeds hold, the outputs there would not\n",
                 longest, model.config().context_length);
    }

    const ullm::ModelConfig& c = model.config();
    const std::string type =
        fmt::format("{} {} {}", c.architecture, params_name(c.n_params()), file_type_name(model.file()));
    const double size_mib = static_cast<double>(model.file().file_size()) / (1 << 20);
    std::mt19937 rng(42);
    std::vector<Result> results;
    // As llama-bench, the cache types get columns only when not the default.
    const bool kv_columns = kv_type != "f16";
    // One test's result as llama-bench's JSON object.
    const auto json_object = [&](const Result& r) {
      return fmt::format(
          "{{\"model_filename\": \"{}\", \"model_type\": \"{}\", \"model_size\": {}, \"model_n_params\": {}, "
          "\"backends\": \"CPU\", \"kernels\": \"{}\", \"n_threads\": {}, \"type_k\": \"{}\", \"type_v\": \"{}\", "
          "\"n_prompt\": {}, \"n_gen\": {}, \"n_depth\": {}, \"avg_ts\": {:.6f}, \"stddev_ts\": {:.6f}, "
          "\"samples_ts\": [{:.6f}]}}",
          json_escaped(path), type, model.file().file_size(), c.n_params(), model.kernel_target(), r.threads, kv_type,
          kv_type, r.test.n_prompt, r.test.n_gen, r.test.n_depth, r.mean(), r.stddev(), fmt::join(r.samples, ", "));
    };
    if (output == "md") {
      fmt::print("| model | size | params | backend | threads |{} test | t/s |\n",
                 kv_columns ? " type_k | type_v |" : "");
      fmt::print("| --- | ---: | ---: | --- | ---: |{} ---: | ---: |\n", kv_columns ? " ---: | ---: |" : "");
    }
    for (int t : threads) {
      for (const Test& test : tests) {
        const auto [p, n, d] = test;
        Result r{t, test, {}};
        ullm::Session session(
            model,
            {.context_length = int64_t{d} + p + n, .threads = t, .kv_type = cache, .beyond_trained_context = true});
        run_once(session, p, n, d, rng);  // warm-up
        for (int i = 0; i < repetitions; ++i) r.samples.push_back(run_once(session, p, n, d, rng));
        if (output == "md") {
          // As llama-bench names them: "pp512", "tg128 @ d512", "pp512+tg128".
          const std::string test = fmt::format("{}{}{}", p > 0 ? fmt::format("pp{}", p) : "", p > 0 && n > 0 ? "+" : "",
                                               n > 0 ? fmt::format("tg{}", n) : "") +
                                   (d > 0 ? fmt::format(" @ d{}", d) : "");
          fmt::print("| {} | {:.2f} MiB | {} | CPU ({}) | {} |{} {} | {:.2f} ± {:.2f} |\n", type, size_mib,
                     params_name(c.n_params()), model.kernel_target(), t,
                     kv_columns ? fmt::format(" {} | {} |", kv_type, kv_type) : "", test, r.mean(), r.stddev());
        } else if (output == "jsonl") {
          fmt::print("{}\n", json_object(r));
        }
        std::fflush(stdout);
        results.push_back(std::move(r));
      }
    }
    if (output == "json") {
      fmt::print("[\n");
      for (size_t i = 0; i < results.size(); ++i) {
        fmt::print("  {}{}\n", json_object(results[i]), i + 1 < results.size() ? "," : "");
      }
      fmt::print("]\n");
    }
    return 0;
  });
}
