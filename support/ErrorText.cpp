//===- support/ErrorText.cpp - The line of an error worth showing ---------===//
#include "support/ErrorText.h"

#include <c10/util/Exception.h>

std::string ppc::errorSummary(const std::exception &e) {
  const auto *ce = dynamic_cast<const c10::Error *>(&e);
  std::string msg = ce ? ce->what_without_backtrace() : e.what();
  std::string first = msg.substr(0, msg.find('\n'));
  if (first.find("failed in the TorchScript interpreter") == std::string::npos)
    return first;
  size_t end = msg.find_last_not_of("\n ");
  size_t start = msg.rfind('\n', end);
  return msg.substr(start == std::string::npos ? 0 : start + 1, end - start);
}
