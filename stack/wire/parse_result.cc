#include "stack/wire/parse_result.hh"

namespace twstack::wire {

const char* to_string(ParseError e) {
  switch (e) {
    case ParseError::kOk: return "ok";
    case ParseError::kTruncated: return "truncated";
    case ParseError::kBadVersion: return "bad_version";
    case ParseError::kBadHeaderLen: return "bad_header_len";
    case ParseError::kBadTotalLen: return "bad_total_len";
    case ParseError::kBadChecksum: return "bad_checksum";
    case ParseError::kFragment: return "fragment";
    case ParseError::kBadOptionLen: return "bad_option_len";
    case ParseError::kUnsupported: return "unsupported";
  }
  return "unknown";
}

}  // namespace twstack::wire
