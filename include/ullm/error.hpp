// The one error convention of ullm: every failure is an exception derived
// from ullm::Error, and every message names the file, key or tensor at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace ullm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The file is malformed, truncated or hostile.
class FormatError : public Error {
 public:
  using Error::Error;
};

// The file is well formed but uses something ullm does not run
// (an architecture, a tensor type, a tokenizer model).
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

// A caller passed a value outside the documented range.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// More tokens than the session's context can hold.
class ContextOverflow : public Error {
 public:
  using Error::Error;
};

// The operating system refused to open, read or map a file.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace ullm
