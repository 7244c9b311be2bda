// ullm-chat: an interactive, streaming chat in the terminal with the model's
// own chat template. Each turn renders the whole conversation, keeps the KV
// cache of the part already evaluated (its longest common token prefix) and
// evaluates only the rest, so history is never re-evaluated.
// Ctrl-C stops the current reply, not the program (at the prompt, it quits);
// /reset starts over; end of input (Ctrl-D) quits. When the context is full the reply stops and
// the program says so (no silent window shifting): /reset to continue.
#include <fmt/format.h>

#include <signal.h>
#include <atomic>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli.hpp"
#include "ullm/ullm.hpp"

namespace {

// Set by SIGINT, cleared before each reply. A signal handler can only reach
// a lock-free global; it lives here in the example, not in the library.
std::atomic<bool> g_interrupted{false};

void on_sigint(int) {
  g_interrupted.store(true);
}

size_t common_prefix(const std::vector<ullm::Token>& a, const std::vector<ullm::Token>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, system_prompt, template_name;
  int n_predict = 1024;
  ullm::cli::SessionFlags session_flags;
  ullm::cli::SamplingFlags sampling_flags;
  sampling_flags.temp = 0.7f;
  bool no_think = false;

  ullm::cli::ArgParser args("ullm-chat", "Chat with a GGUF model in the terminal, in its own chat template.");
  args.option({"-m", "--model"}, &model_path, "PATH",
              fmt::format("model file (default: $ULLM_MODEL, else {})", ullm::cli::kDefaultModel));
  args.option({"-s", "--system"}, &system_prompt, "TEXT", "system prompt");
  args.option(
      {"--chat-template"}, &template_name, "NAME",
      fmt::format("use this template instead of the model's: {}", fmt::join(ullm::ChatTemplate::known_names(), ", ")));
  args.option({"-n", "--n-predict"}, &n_predict, "N", "most tokens per reply (default: 1024)");
  session_flags.add_to(args);
  sampling_flags.add_to(args);
  args.flag({"--no-think"}, &no_think, "ask reasoning models (Qwen3, DeepSeek-R1) to answer without thinking");
  args.parse(argc, argv);
  if (n_predict < 1) args.usage_error("-n must be 1 or more");
  const ullm::SessionOptions session_options = session_flags.options(args);
  const ullm::SamplerOptions sampling = sampling_flags.options(args);
  if (!template_name.empty()) {
    try {
      ullm::ChatTemplate::named(template_name);
    } catch (const ullm::Error& e) {
      args.usage_error(e.what());
    }
  }

  return ullm::cli::run_main("ullm-chat", [&] {
    const std::string path = ullm::cli::resolve_model_path(model_path);
    const ullm::Model model = ullm::cli::load_model("ullm-chat", path);
    const ullm::ChatTemplate chat = ullm::ChatTemplate::for_model(model, template_name);
    const ullm::Tokenizer& tok = model.tokenizer();
    ullm::Session session(model, session_options);
    ullm::Sampler sampler(sampling);
    // No SA_RESTART: Ctrl-C at the prompt interrupts the read and quits.
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    fmt::print(stderr,
               "ullm-chat: {} ({} template, context {}). /reset starts over, Ctrl-C stops a reply, Ctrl-D quits.\n",
               path, chat.name(), session.context_length());

    std::vector<ullm::ChatMessage> messages;
    const auto reset = [&] {
      messages.clear();
      if (!system_prompt.empty()) messages.push_back({"system", system_prompt});
    };
    reset();
    std::vector<ullm::Token> cached;  // what the session's KV cache holds
    std::string line;
    while (true) {
      fmt::print(stderr, "> ");
      std::fflush(stderr);
      if (!std::getline(std::cin, line)) break;  // end of input, or Ctrl-C at the prompt
      if (line == "/reset") {
        reset();
        fmt::print(stderr, "(conversation reset)\n");
        continue;
      }
      if (line.empty()) continue;
      messages.push_back({"user", line});

      const std::string text =
          chat.apply(messages, {.add_generation_prompt = true, .enable_thinking = !no_think, .date = {}});
      const bool has_bos = tok.bos() >= 0 && text.starts_with(tok.token_text(tok.bos()));
      const std::vector<ullm::Token> prompt = tok.encode(text, {.add_special = !has_bos, .parse_special = true});
      if (static_cast<int64_t>(prompt.size()) >= session.context_length()) {
        messages.pop_back();
        fmt::print(stderr, "(the conversation no longer fits in the context of {} tokens: /reset to start over)\n",
                   session.context_length());
        continue;
      }
      // Keep the cached prefix; at least the last token is evaluated, for its logits.
      const size_t keep = std::min(common_prefix(cached, prompt), prompt.size() - 1);
      session.rewind(session.position() - static_cast<int64_t>(keep));
      g_interrupted.store(false);
      std::span<const float> logits = session.eval(std::span<const ullm::Token>(prompt).subspan(keep));
      cached = prompt;

      ullm::StreamingDecoder decoder(tok);
      std::string reply;
      std::vector<ullm::Token> history = prompt;
      bool context_full = false;
      for (int n = 0; n < n_predict && !g_interrupted.load(); ++n) {
        const ullm::Token t = sampler.sample(logits, history);
        if (tok.is_end_of_generation(t)) break;
        const std::string piece = decoder.push(t);
        reply += piece;
        fmt::print("{}", piece);
        std::fflush(stdout);
        history.push_back(t);
        if (session.position() >= session.context_length()) {
          context_full = true;
          break;
        }
        logits = session.eval(std::span<const ullm::Token>(&t, 1));
        cached.push_back(t);
      }
      const std::string rest = decoder.finish();
      reply += rest;
      fmt::print("{}\n", rest);
      std::fflush(stdout);
      if (g_interrupted.load()) fmt::print(stderr, "(stopped)\n");
      if (context_full) {
        fmt::print(stderr, "(context of {} tokens full: /reset to start over)\n", session.context_length());
      }
      messages.push_back({"assistant", reply});
    }
    return 0;
  });
}
