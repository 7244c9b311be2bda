// Each supported template family rendered as its Jinja source does (the
// sources are in ../shared/reference/chat-templates); tool calls are not
// supported.
#include <fmt/format.h>

#include <ctime>

#include "ullm/chat.hpp"
#include "ullm/error.hpp"
#include "ullm/model.hpp"

namespace ullm {
namespace {

// Python's str.strip() / lstrip() / rstrip() of whitespace or of `chars`.
std::string_view lstrip(std::string_view s, std::string_view chars = " \t\n\r\f\v") {
  const size_t b = s.find_first_not_of(chars);
  return b == std::string_view::npos ? std::string_view{} : s.substr(b);
}
std::string_view rstrip(std::string_view s, std::string_view chars = " \t\n\r\f\v") {
  const size_t e = s.find_last_not_of(chars);
  return e == std::string_view::npos ? std::string_view{} : s.substr(0, e + 1);
}
std::string_view strip(std::string_view s, std::string_view chars = " \t\n\r\f\v") {
  return rstrip(lstrip(s, chars), chars);
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

void check_roles(std::span<const ChatMessage> messages, const std::string& name) {
  if (messages.empty()) throw InvalidArgument("a chat needs at least one message");
  for (const ChatMessage& m : messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant") {
      throw InvalidArgument(
          fmt::format("chat template '{}': unknown role '{}' (system, user, assistant)", name, m.role));
    }
  }
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%d %b %Y", &local);
  return buf;
}

// <|im_start|>role\ncontent<|im_end|>\n turns: generic ChatML, Qwen2.5 (which
// adds its default system prompt) and Qwen3 (which shows the reasoning of
// the replies after the last user turn).
std::string chatml(std::span<const ChatMessage> messages, const ChatOptions& options, std::string_view variant) {
  std::string out;
  const auto turn = [&](std::string_view role, std::string_view content) {
    out += fmt::format("<|im_start|>{}\n{}<|im_end|>\n", role, content);
  };
  const bool system_first = messages.front().role == "system";
  if (variant == "qwen2.5" && !system_first) {
    turn("system", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  }
  size_t last_query = messages.size() - 1;
  for (size_t i = messages.size(); i-- > 0;) {
    if (messages[i].role == "user") {
      last_query = i;
      break;
    }
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role != "assistant" || variant != "qwen3") {
      turn(m.role, m.content);
      continue;
    }
    std::string_view content = m.content, reasoning;
    if (const size_t close = content.rfind("</think>"); close != std::string_view::npos) {
      std::string_view before = rstrip(content.substr(0, content.find("</think>")), "\n");
      if (const size_t open = before.rfind("<think>"); open != std::string_view::npos) before = before.substr(open + 7);
      reasoning = lstrip(before, "\n");
      content = lstrip(content.substr(close + 8), "\n");
    }
    if (i > last_query && (i + 1 == messages.size() || !reasoning.empty())) {
      out += fmt::format("<|im_start|>assistant\n<think>\n{}\n</think>\n\n{}<|im_end|>\n", strip(reasoning, "\n"),
                         lstrip(content, "\n"));
    } else {
      turn("assistant", content);
    }
  }
  if (options.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (variant == "qwen3" && !options.enable_thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

}  // namespace

std::vector<std::string> ChatTemplate::known_names() {
  return {"chatml", "qwen2.5", "qwen3", "llama3", "llama3.1", "gemma", "phi3", "deepseek-r1"};
}

ChatTemplate ChatTemplate::named(std::string_view name) {
  for (const std::string& known : known_names()) {
    if (known == name) return ChatTemplate(known);
  }
  throw UnsupportedError(fmt::format("unknown chat template '{}' (known: {})", name, fmt::join(known_names(), ", ")));
}

ChatTemplate ChatTemplate::detect(std::string_view jinja) {
  const auto unsupported = [&](std::string_view family) {
    return UnsupportedError(
        fmt::format("the model's chat template ({}) is not supported; name one with "
                    "--chat-template (known: {})",
                    family, fmt::join(known_names(), ", ")));
  };
  if (contains(jinja, "<｜Assistant｜>")) return ChatTemplate("deepseek-r1");
  if (contains(jinja, "<|start_of_role|>")) throw unsupported("Granite");
  if (contains(jinja, "<|im_start|>")) {
    if (contains(jinja, "## Metadata")) throw unsupported("SmolLM3");
    if (contains(jinja, "<think>")) return ChatTemplate("qwen3");
    if (contains(jinja, "You are Qwen, created by Alibaba Cloud")) return ChatTemplate("qwen2.5");
    return ChatTemplate("chatml");
  }
  if (contains(jinja, "<|start_header_id|>")) {
    return ChatTemplate(contains(jinja, "Cutting Knowledge Date") ? "llama3.1" : "llama3");
  }
  if (contains(jinja, "<start_of_turn>")) return ChatTemplate("gemma");
  if (contains(jinja, "<|assistant|>") && contains(jinja, "<|end|>")) return ChatTemplate("phi3");
  throw unsupported("unrecognised");
}

ChatTemplate ChatTemplate::for_model(const Model& model, std::string_view override_name) {
  ChatTemplate t = [&] {
    if (!override_name.empty()) return named(override_name);
    const gguf::Value* jinja = model.file().find("tokenizer.chat_template");
    if (jinja == nullptr) {
      throw UnsupportedError(fmt::format("the model has no chat template; name one with --chat-template (known: {})",
                                         fmt::join(known_names(), ", ")));
    }
    return detect(jinja->as_string("tokenizer.chat_template"));
  }();
  const Tokenizer& tok = model.tokenizer();
  t.set_special_tokens(tok.bos() >= 0 ? tok.token_text(tok.bos()) : "",
                       tok.eos() >= 0 ? tok.token_text(tok.eos()) : "");
  return t;
}

void ChatTemplate::set_special_tokens(std::string bos, std::string eos) {
  bos_ = std::move(bos);
  eos_ = std::move(eos);
}

std::string ChatTemplate::apply(std::span<const ChatMessage> messages, const ChatOptions& options) const {
  check_roles(messages, name_);
  if (name_ == "chatml" || name_ == "qwen2.5" || name_ == "qwen3") return chatml(messages, options, name_);

  std::string out;
  if (name_ == "llama3" || name_ == "llama3.1") {
    out = bos_;
    std::span<const ChatMessage> rest = messages;
    if (name_ == "llama3.1") {
      // The system turn always comes, with the dates, then the system text.
      std::string_view system;
      if (messages.front().role == "system") {
        system = strip(messages.front().content);
        rest = messages.subspan(1);
      }
      out += fmt::format(
          "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: "
          "{}\n\n{}<|eot_id|>",
          options.date.empty() ? today() : options.date, system);
    }
    for (const ChatMessage& m : rest) {
      out += fmt::format("<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>", m.role, strip(m.content));
    }
    if (options.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
  }
  if (name_ == "gemma") {
    // Gemma has no system role (its template refuses one): the system text
    // opens the first user turn instead, as llama.cpp does.
    out = bos_;
    std::string pending_system;
    for (const ChatMessage& m : messages) {
      if (m.role == "system") {
        pending_system += std::string(strip(m.content)) + "\n\n";
        continue;
      }
      std::string content(strip(m.content));
      if (m.role == "user" && !pending_system.empty()) content = pending_system + content, pending_system.clear();
      out += fmt::format("<start_of_turn>{}\n{}<end_of_turn>\n", m.role == "assistant" ? "model" : m.role, content);
    }
    if (options.add_generation_prompt) out += "<start_of_turn>model\n";
    return out;
  }
  if (name_ == "phi3") {
    for (const ChatMessage& m : messages) {
      if (m.role == "system" && m.content.empty()) continue;
      out += fmt::format("<|{}|>\n{}<|end|>\n", m.role, m.content);
    }
    out += options.add_generation_prompt ? "<|assistant|>\n" : eos_;
    return out;
  }
  // deepseek-r1: the (last) system text right after BOS, then the turns; a
  // reply's reasoning (up to its last </think>) is dropped from history.
  std::string system;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") system = m.content;
  }
  out = bos_ + system;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") out += "<｜User｜>" + m.content;
    if (m.role == "assistant") {
      std::string_view content = m.content;
      if (const size_t close = content.rfind("</think>"); close != std::string_view::npos) {
        content = content.substr(close + 8);
      }
      out += fmt::format("<｜Assistant｜>{}<｜end▁of▁sentence｜>", content);
    }
  }
  if (options.add_generation_prompt) {
    out += "<｜Assistant｜><think>\n";
    if (!options.enable_thinking) out += "</think>";
  }
  return out;
}

}  // namespace ullm
