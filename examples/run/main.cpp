// ullm-run: generate text from a prompt.
// stdout gets only the generated text (or token ids with --ids);
// everything else goes to stderr.
#include <fmt/format.h>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli.hpp"
#include "ullm/ullm.hpp"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ullm::IoError(fmt::format("{}: cannot open prompt file", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string_view stop_reason_text(ullm::StopReason r) {
  switch (r) {
    case ullm::StopReason::MaxTokens:
      return "token limit";
    case ullm::StopReason::EndOfGeneration:
      return "end of generation";
    case ullm::StopReason::StopString:
      return "stop string";
    case ullm::StopReason::ContextFull:
      return "context full";
    case ullm::StopReason::Cancelled:
      return "cancelled";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, prompt = "Once upon a time", prompt_file, kv_type = "f16";
  int n_predict = 128, threads = 0, ctx = 0, top_k = 40, repeat_last_n = 64;
  float temp = 0.8f, top_p = 0.95f, min_p = 0.05f, repeat_penalty = 1.0f;
  uint64_t seed = ullm::SamplerOptions::kRandomSeed;
  bool ids = false, echo = false, ignore_eos = false, quiet = false;

  ullm::cli::ArgParser args("ullm-run", "Generate text from a prompt with a GGUF model.");
  args.option({"-m", "--model"}, &model_path, "PATH",
              fmt::format("model file (default: $ULLM_MODEL, else {})", ullm::cli::kDefaultModel));
  args.option({"-p", "--prompt"}, &prompt, "TEXT", "prompt (default: \"Once upon a time\")");
  args.option({"-f", "--file"}, &prompt_file, "PATH", "read the prompt from a file");
  args.option({"-n", "--n-predict"}, &n_predict, "N", "tokens to generate, -1 for no limit (default: 128)");
  args.option({"-t", "--threads"}, &threads, "N", "threads (default: 0, one per physical core)");
  args.option({"-c", "--ctx-size"}, &ctx, "N",
              "context length; 0: the model's trained context, at most 4096 (default: 0)");
  args.option({"--temp"}, &temp, "T", "temperature, 0 for greedy (default: 0.8)");
  args.option({"--top-k"}, &top_k, "K", "top-k sampling, 0 to disable (default: 40)");
  args.option({"--top-p"}, &top_p, "P", "top-p sampling, 1 to disable (default: 0.95)");
  args.option({"--min-p"}, &min_p, "P", "min-p sampling, 0 to disable (default: 0.05)");
  args.option({"--seed"}, &seed, "S", "random seed (default: random)");
  args.option({"--repeat-penalty"}, &repeat_penalty, "R", "penalty for repeated tokens, 1 to disable (default: 1)");
  args.option({"--repeat-last-n"}, &repeat_last_n, "N", "tokens the repeat penalty looks back at (default: 64)");
  args.option({"--kv-type"}, &kv_type, "TYPE", "KV cache type: f16 or f32 (default: f16)");
  args.flag({"--ids"}, &ids, "print generated token ids, one per line, instead of text");
  args.flag({"--echo"}, &echo, "print the prompt (or its ids) before the generated output");
  args.flag({"--ignore-eos"}, &ignore_eos, "keep generating after an end-of-generation token");
  args.flag({"-q", "--quiet"}, &quiet, "print no diagnostics on stderr");
  args.parse(argc, argv);
  if (kv_type != "f16" && kv_type != "f32") args.usage_error("--kv-type must be f16 or f32, not '" + kv_type + "'");
  if (n_predict < -1) args.usage_error("-n must be -1 (no limit) or more");
  if (threads < 0) args.usage_error("-t must be 0 (one per physical core) or more");
  if (ctx < 0) args.usage_error("-c must be 0 (the model's context) or more");
  const ullm::SamplerOptions sampling{.temperature = temp,
                                      .top_k = top_k,
                                      .top_p = top_p,
                                      .min_p = min_p,
                                      .repeat_penalty = repeat_penalty,
                                      .repeat_last_n = repeat_last_n,
                                      .seed = seed};
  try {
    ullm::Sampler check(sampling);
  } catch (const ullm::InvalidArgument& e) {
    args.usage_error(e.what());
  }

  return ullm::cli::run_main("ullm-run", [&] {
    if (!prompt_file.empty()) prompt = read_file(prompt_file);
    const std::string path = ullm::cli::resolve_model_path(model_path);
    const ullm::Model model = ullm::Model::load(path);
    const ullm::ModelConfig& c = model.config();
    ullm::Session session(model, {.context_length = ctx,
                                  .threads = threads,
                                  .kv_type = kv_type == "f32" ? ullm::KvType::F32 : ullm::KvType::F16});
    if (!quiet) {
      fmt::print(stderr, "model: {} ({}, {} layers, dim {}, vocab {}), context {}, {} threads, {} kernels\n", path,
                 c.architecture, c.n_layer, c.n_embd, c.n_vocab, session.context_length(), session.threads(),
                 model.kernel_target());
    }

    ullm::GenerateOptions options;
    options.max_tokens = n_predict;
    options.stop_at_end_of_generation = !ignore_eos;
    options.sampler = sampling;
    if (echo) {
      if (ids) {
        for (ullm::Token t : model.tokenizer().encode(prompt)) fmt::print("{}\n", t);
      } else {
        fmt::print("{}", prompt);
      }
      std::fflush(stdout);
    }
    const ullm::GenerateResult r = ullm::generate(session, prompt, options, [&](ullm::Token t, std::string_view text) {
      if (ids) {
        if (t >= 0) fmt::print("{}\n", t);
      } else {
        fmt::print("{}", text);
      }
      std::fflush(stdout);
      return true;
    });
    if (!ids) fmt::print("\n");
    std::fflush(stdout);
    if (!quiet) {
      const auto rate = [](size_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; };
      fmt::print(stderr, "prompt: {} tokens in {:.1f} ms ({:.1f} tok/s)\n", r.prompt_tokens.size(),
                 r.prompt_seconds * 1e3, rate(r.prompt_tokens.size(), r.prompt_seconds));
      fmt::print(stderr, "generated: {} tokens in {:.1f} ms ({:.1f} tok/s), stopped on {}\n", r.tokens.size(),
                 r.generate_seconds * 1e3, rate(r.tokens.size(), r.generate_seconds), stop_reason_text(r.stop_reason));
    }
    return 0;
  });
}
