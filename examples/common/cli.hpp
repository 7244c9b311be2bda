// A small command-line parser shared by the example programs and tools:
// --help on every program, a usage error (exit 2) for bad flags, and one
// place that turns ullm::Error into a one-line message (exit 1).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ullm/model.hpp"
#include "ullm/sampler.hpp"
#include "ullm/session.hpp"

namespace ullm::cli {

class ArgParser {
 public:
  ArgParser(std::string program, std::string summary);

  void flag(std::vector<std::string> names, bool* target, std::string help);
  void option(std::vector<std::string> names, std::string* target, std::string metavar, std::string help);
  void option(std::vector<std::string> names, int* target, std::string metavar, std::string help);
  void option(std::vector<std::string> names, float* target, std::string metavar, std::string help);
  void option(std::vector<std::string> names, uint64_t* target, std::string metavar, std::string help);
  void positional(std::string name, std::string* target, std::string help, bool required = true);

  // Parses argv; prints help and exits 0 on -h/--help, prints a usage error
  // and exits 2 on anything it cannot parse.
  void parse(int argc, char** argv);
  std::string usage() const;
  // Prints "program: error: message" and the usage, and exits with code 2:
  // for flag values that parse but are out of range.
  [[noreturn]] void usage_error(const std::string& message) const;

 private:
  struct Option {
    std::vector<std::string> names;
    std::string metavar;  // empty for flags
    std::string help;
    std::function<void(std::string_view)> set;
  };
  struct Positional {
    std::string name;
    std::string* target;
    std::string help;
    bool required;
  };
  void add(std::vector<std::string> names, std::string metavar, std::string help,
           std::function<void(std::string_view)> set);

  std::string program_;
  std::string summary_;
  std::vector<Option> options_;
  std::vector<Positional> positionals_;
};

// A --kv-type value ("f16" or "f32"); exits with a usage error otherwise.
KvType parse_kv_type(const ArgParser& args, const std::string& value);

// -t, -c and --kv-type, for the programs that run a Session.
struct SessionFlags {
  int threads = 0;
  int ctx = 0;
  std::string kv_type = "f16";
  void add_to(ArgParser& args);
  // Exits with a usage error for a value out of range.
  SessionOptions options(const ArgParser& args) const;
};

// --temp, --top-k, --top-p, --min-p, --seed and the repetition penalty.
struct SamplingFlags {
  float temp = 0.8f;  // set the program's default before add_to()
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  uint64_t seed = SamplerOptions::kRandomSeed;
  void add_to(ArgParser& args);
  // Exits with a usage error for options the Sampler refuses.
  SamplerOptions options(const ArgParser& args) const;
};

// Runs `body`, turning exceptions into "program: error: ..." on stderr and exit code 1.
int run_main(std::string_view program, const std::function<int()>& body);

// The model path: the -m value, else $ULLM_MODEL, else the default model.
std::string resolve_model_path(const std::string& flag_value);
inline constexpr std::string_view kDefaultModel = "../shared/models/stories260K-f32.gguf";

// Loads a model and says on stderr which better kernel targets the
// automatic choice refused (Model::refused_kernel_targets), if any.
Model load_model(std::string_view program, const std::string& path, const LoadOptions& options = {});

}  // namespace ullm::cli
