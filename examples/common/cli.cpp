#include "cli.hpp"

#include <fmt/format.h>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "ullm/error.hpp"

namespace ullm::cli {
namespace {

struct BadValue : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T parse_number(std::string_view s) {
  T value{};
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc() || ptr != end || s.empty()) throw BadValue(fmt::format("'{}' is not a valid number", s));
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) throw BadValue(fmt::format("'{}' is not a finite number", s));
  }
  return value;
}

}  // namespace

ArgParser::ArgParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void ArgParser::add(std::vector<std::string> names, std::string metavar, std::string help,
                    std::function<void(std::string_view)> set) {
  options_.push_back({std::move(names), std::move(metavar), std::move(help), std::move(set)});
}

void ArgParser::flag(std::vector<std::string> names, bool* target, std::string help) {
  add(std::move(names), "", std::move(help), [target](std::string_view) { *target = true; });
}

void ArgParser::option(std::vector<std::string> names, std::string* target, std::string metavar, std::string help) {
  add(std::move(names), std::move(metavar), std::move(help), [target](std::string_view v) { *target = v; });
}

void ArgParser::option(std::vector<std::string> names, int* target, std::string metavar, std::string help) {
  add(std::move(names), std::move(metavar), std::move(help),
      [target](std::string_view v) { *target = parse_number<int>(v); });
}

void ArgParser::option(std::vector<std::string> names, float* target, std::string metavar, std::string help) {
  add(std::move(names), std::move(metavar), std::move(help),
      [target](std::string_view v) { *target = parse_number<float>(v); });
}

void ArgParser::option(std::vector<std::string> names, uint64_t* target, std::string metavar, std::string help) {
  add(std::move(names), std::move(metavar), std::move(help),
      [target](std::string_view v) { *target = parse_number<uint64_t>(v); });
}

void ArgParser::positional(std::string name, std::string* target, std::string help, bool required) {
  positionals_.push_back({std::move(name), target, std::move(help), required});
}

std::string ArgParser::usage() const {
  std::string line = "usage: " + program_;
  if (!options_.empty()) line += " [options]";
  for (const auto& p : positionals_) line += p.required ? " " + p.name : " [" + p.name + "]";
  std::string out = line + "\n\n" + summary_ + "\n";
  if (!positionals_.empty()) {
    out += "\narguments:\n";
    for (const auto& p : positionals_) out += fmt::format("  {:<26}{}\n", p.name, p.help);
  }
  out += "\noptions:\n";
  out += fmt::format("  {:<26}{}\n", "-h, --help", "show this help and exit");
  for (const auto& o : options_) {
    std::string names;
    for (const auto& n : o.names) names += (names.empty() ? "" : ", ") + n;
    if (!o.metavar.empty()) names += " " + o.metavar;
    out += fmt::format("  {:<26}{}\n", names, o.help);
  }
  return out;
}

void ArgParser::usage_error(const std::string& message) const {
  fmt::print(stderr, "{}: error: {}\n{}", program_, message, usage());
  std::exit(2);
}

void ArgParser::parse(int argc, char** argv) {
  size_t next_positional = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      fmt::print("{}", usage());
      std::exit(0);
    }
    if (arg.size() > 1 && arg[0] == '-' && !(arg.size() > 1 && (std::isdigit(arg[1]) || arg[1] == '.'))) {
      std::string_view name = arg;
      std::string_view inline_value;
      bool has_inline = false;
      if (const size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
        has_inline = true;
      }
      const Option* match = nullptr;
      for (const auto& o : options_) {
        for (const auto& n : o.names) {
          if (n == name) match = &o;
        }
      }
      if (match == nullptr) usage_error(fmt::format("unknown option '{}'", name));
      std::string_view value;
      if (!match->metavar.empty()) {
        if (has_inline) {
          value = inline_value;
        } else if (i + 1 < argc) {
          value = argv[++i];
        } else {
          usage_error(fmt::format("option '{}' needs a value ({})", name, match->metavar));
        }
      } else if (has_inline) {
        usage_error(fmt::format("option '{}' takes no value", name));
      }
      try {
        match->set(value);
      } catch (const BadValue& e) {
        usage_error(fmt::format("option '{}': {}", name, e.what()));
      }
      continue;
    }
    if (next_positional >= positionals_.size()) usage_error(fmt::format("unexpected argument '{}'", arg));
    *positionals_[next_positional++].target = arg;
  }
  for (size_t p = next_positional; p < positionals_.size(); ++p) {
    if (positionals_[p].required) usage_error(fmt::format("missing argument {}", positionals_[p].name));
  }
}

int run_main(std::string_view program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const ullm::Error& e) {
    fmt::print(stderr, "{}: error: {}\n", program, e.what());
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "{}: error: out of memory\n", program);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: error: {}\n", program, e.what());
  }
  return 1;
}

std::string resolve_model_path(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv("ULLM_MODEL"); env != nullptr && *env != '\0') return env;
  return std::string(kDefaultModel);
}

Model load_model(std::string_view program, const std::string& path, const LoadOptions& options) {
  Model model = Model::load(path, options);
  for (const std::string& refused : model.refused_kernel_targets()) {
    fmt::print(stderr, "{}: warning: kernel target {}; running {} instead (please report this CPU)\n", program, refused,
               model.kernel_target());
  }
  return model;
}

void SessionFlags::add_to(ArgParser& args) {
  args.option({"-t", "--threads"}, &threads, "N", "threads (default: 0, one per physical core)");
  args.option({"-c", "--ctx-size"}, &ctx, "N",
              "context length; 0: the model's trained context, at most 4096 (default: 0)");
  args.option({"--kv-type"}, &kv_type, "TYPE", "KV cache type: f16 or f32 (default: f16)");
}

KvType parse_kv_type(const ArgParser& args, const std::string& value) {
  if (value != "f16" && value != "f32") args.usage_error("--kv-type must be f16 or f32, not '" + value + "'");
  return value == "f32" ? KvType::F32 : KvType::F16;
}

SessionOptions SessionFlags::options(const ArgParser& args) const {
  const KvType cache = parse_kv_type(args, kv_type);
  if (threads < 0) args.usage_error("-t must be 0 (one per physical core) or more");
  if (ctx < 0) args.usage_error("-c must be 0 (the model's context) or more");
  return {.context_length = ctx, .threads = threads, .kv_type = cache};
}

void SamplingFlags::add_to(ArgParser& args) {
  args.option({"--temp"}, &temp, "T", fmt::format("temperature, 0 for greedy (default: {})", temp));
  args.option({"--top-k"}, &top_k, "K", "top-k sampling, 0 to disable (default: 40)");
  args.option({"--top-p"}, &top_p, "P", "top-p sampling, 1 to disable (default: 0.95)");
  args.option({"--min-p"}, &min_p, "P", "min-p sampling, 0 to disable (default: 0.05)");
  args.option({"--seed"}, &seed, "S", "random seed (default: random)");
  args.option({"--repeat-penalty"}, &repeat_penalty, "R", "penalty for repeated tokens, 1 to disable (default: 1)");
  args.option({"--repeat-last-n"}, &repeat_last_n, "N", "tokens the repeat penalty looks back at (default: 64)");
}

SamplerOptions SamplingFlags::options(const ArgParser& args) const {
  const SamplerOptions o{.temperature = temp,
                         .top_k = top_k,
                         .top_p = top_p,
                         .min_p = min_p,
                         .repeat_penalty = repeat_penalty,
                         .repeat_last_n = repeat_last_n,
                         .seed = seed};
  try {
    Sampler check(o);
  } catch (const InvalidArgument& e) {
    args.usage_error(e.what());
  }
  return o;
}

}  // namespace ullm::cli
