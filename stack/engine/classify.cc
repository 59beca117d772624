#include "stack/engine/classify.hh"

namespace twstack::engine {

const char* to_string(FrameClass c) {
  switch (c) {
    case FrameClass::kStackArp: return "stack-arp";
    case FrameClass::kStackTcp: return "stack-tcp";
    case FrameClass::kStackIcmp: return "stack-icmp";
    case FrameClass::kOtherHost: return "other-host";
    case FrameClass::kNotLocal: return "not-local";
    case FrameClass::kOtherProtocol: return "other-protocol";
    case FrameClass::kOtherEtherType: return "other-ethertype";
    case FrameClass::kFragment: return "fragment";
    case FrameClass::kMalformed: return "malformed";
    case FrameClass::kCount: break;
  }
  return "?";
}

}  // namespace twstack::engine
