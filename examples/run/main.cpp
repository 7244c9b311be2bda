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
  std::string model_path, prompt = "Once upon a time", prompt_file;
  int n_predict = 128;
  ullm::cli::SessionFlags session_flags;
  ullm::cli::SamplingFlags sampling_flags;
  bool ids = false, echo = false, ignore_eos = false, quiet = false, no_repack = false;

  ullm::cli::ArgParser args("ullm-run", "Generate text from a prompt with a GGUF model.");
  args.option({"-m", "--model"}, &model_path, "PATH",
              fmt::format("model file (default: $ULLM_MODEL, else {})", ullm::cli::kDefaultModel));
  args.option({"-p", "--prompt"}, &prompt, "TEXT", "prompt (default: \"Once upon a time\")");
  args.option({"-f", "--file"}, &prompt_file, "PATH", "read the prompt from a file");
  args.option({"-n", "--n-predict"}, &n_predict, "N", "tokens to generate, -1 for no limit (default: 128)");
  session_flags.add_to(args);
  sampling_flags.add_to(args);
  args.flag({"--ids"}, &ids, "print generated token ids, one per line, instead of text");
  args.flag({"--echo"}, &echo, "print the prompt (or its ids) before the generated output");
  args.flag({"--ignore-eos"}, &ignore_eos, "keep generating after an end-of-generation token");
  args.flag({"-q", "--quiet"}, &quiet, "print no diagnostics on stderr");
  args.flag({"--no-repack"}, &no_repack, "compute from the mapped file only: faster load, slower decode");
  args.parse(argc, argv);
  if (n_predict < -1) args.usage_error("-n must be -1 (no limit) or more");
  const ullm::SessionOptions session_options = session_flags.options(args);
  const ullm::SamplerOptions sampling = sampling_flags.options(args);

  return ullm::cli::run_main("ullm-run", [&] {
    if (!prompt_file.empty()) prompt = read_file(prompt_file);
    const std::string path = ullm::cli::resolve_model_path(model_path);
    ullm::LoadOptions load_options;
    load_options.repack_weights = !no_repack;
    const ullm::Model model = ullm::cli::load_model("ullm-run", path, load_options);
    const ullm::ModelConfig& c = model.config();
    ullm::Session session(model, session_options);
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
