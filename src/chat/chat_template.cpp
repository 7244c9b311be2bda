// Each supported template family rendered as its Jinja source does (the
// sources are in ../shared/reference/chat-templates); tool calls are not
// supported.
#include <fmt/format.h>

#include <cstdio>
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

struct Date {
  int year, month, day;  // month 1-12
};

// ChatOptions::date (YYYY-MM-DD), or the local date when it is empty.
Date date_of(const ChatOptions& options) {
  if (options.date.empty()) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    return {local.tm_year + 1900, local.tm_mon + 1, local.tm_mday};
  }
  Date d{};
  char tail = 0;
  if (std::sscanf(options.date.c_str(), "%4d-%2d-%2d%c", &d.year, &d.month, &d.day, &tail) != 3 || d.month < 1 ||
      d.month > 12 || d.day < 1 || d.day > 31) {
    throw InvalidArgument(fmt::format("chat date '{}' is not YYYY-MM-DD", options.date));
  }
  return d;
}

// Month names as Python's strftime writes them in the C locale (what the templates call).
constexpr std::string_view kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                        "July",    "August",   "September", "October", "November", "December"};

// strftime "%d %b %Y": "05 Jul 2024".
std::string day_abbreviated_month_year(const Date& d) {
  return fmt::format("{:02} {} {}", d.day, kMonths[d.month - 1].substr(0, 3), d.year);
}
// strftime "%B %d, %Y": "July 05, 2024".
std::string month_day_year(const Date& d) {
  return fmt::format("{} {:02}, {}", kMonths[d.month - 1], d.day, d.year);
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
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

// IBM Granite 3.x: role-tagged turns; without a system message, a default
// one with the date. (The template's tools, documents and `thinking` options
// are not passed by ullm, as llama.cpp does not pass them.)
std::string granite(std::span<const ChatMessage> messages, const ChatOptions& options) {
  std::string system;
  if (messages.front().role == "system") {
    system = messages.front().content;
    messages = messages.subspan(1);
  } else {
    system = fmt::format(
        "Knowledge Cutoff Date: April 2024. Today's Date: {}. You are Granite, developed by IBM. You are a helpful "
        "AI assistant.",
        month_day_year(date_of(options)));
  }
  std::string out = fmt::format("<|start_of_role|>system<|end_of_role|>{}<|end_of_text|>\n", system);
  for (const ChatMessage& m : messages) {
    out += fmt::format("<|start_of_role|>{}<|end_of_role|>{}<|end_of_text|>\n", m.role, m.content);
  }
  // The template opens the reply only after a last turn, so never after a lone system message.
  if (options.add_generation_prompt && !messages.empty()) out += "<|start_of_role|>assistant<|end_of_role|>";
  return out;
}

// SmolLM3: ChatML with a metadata system block; "/think" or "/no_think" in
// the system message overrides enable_thinking, and in no-think mode every
// reply carries an empty think block.
std::string smollm3(std::span<const ChatMessage> messages, const ChatOptions& options) {
  bool thinking = options.enable_thinking;
  std::string custom;
  if (messages.front().role == "system") {
    const std::string& system = messages.front().content;
    if (contains(system, "/no_think")) {
      thinking = false;
    } else if (contains(system, "/think")) {
      thinking = true;
    }
    const std::string without_switches = replace_all(replace_all(system, "/no_think", ""), "/think", "");
    custom = rstrip(without_switches);
  }
  std::string out = "<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\n";
  out += fmt::format("Reasoning Mode: {}\n\n## Custom Instructions\n\n", thinking ? "/think" : "/no_think");
  if (!custom.empty()) {
    out += custom + "\n\n";
  } else if (thinking) {
    out +=
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face. Your role as an assistant involves "
        "thoroughly exploring questions through a systematic thinking process before providing the final precise "
        "and accurate solutions. This requires engaging in a comprehensive cycle of analysis, summarizing, "
        "exploration, reassessment, reflection, backtracking, and iteration to develop well-considered thinking "
        "process. Please structure your response into two main sections: Thought and Solution using the specified "
        "format: <think> Thought section </think> Solution section. In the Thought section, detail your reasoning "
        "process in steps. Each step should include detailed considerations such as analysing questions, "
        "summarizing relevant findings, brainstorming new ideas, verifying the accuracy of the current steps, "
        "refining any errors, and revisiting previous steps. In the Solution section, based on various attempts, "
        "explorations, and reflections from the Thought section, systematically present the final solution that "
        "you deem correct. The Solution section should be logical, accurate, and concise and detail necessary "
        "steps needed to reach the conclusion.\n\n";
  } else {
    out += "You are a helpful AI assistant named SmolLM, trained by Hugging Face.\n\n";
  }
  out += "<|im_end|>\n";
  const std::string_view empty_think = thinking ? "" : "<think>\n\n</think>\n";
  for (const ChatMessage& m : messages) {
    if (m.role == "user") out += fmt::format("<|im_start|>user\n{}<|im_end|>\n", m.content);
    if (m.role == "assistant") {
      out += fmt::format("<|im_start|>assistant\n{}{}<|im_end|>\n", empty_think, lstrip(m.content, "\n"));
    }
  }
  if (options.add_generation_prompt) out += fmt::format("<|im_start|>assistant\n{}", empty_think);
  return out;
}

}  // namespace

std::vector<std::string> ChatTemplate::known_names() {
  return {"chatml", "qwen2.5", "qwen3", "llama3", "llama3.1", "gemma", "phi3", "deepseek-r1", "granite", "smollm3"};
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
  if (contains(jinja, "<|start_of_role|>")) return ChatTemplate("granite");
  if (contains(jinja, "<|im_start|>")) {
    if (contains(jinja, "## Metadata")) return ChatTemplate("smollm3");
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
  if (name_ == "granite") return granite(messages, options);
  if (name_ == "smollm3") return smollm3(messages, options);

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
          day_abbreviated_month_year(date_of(options)), system);
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
