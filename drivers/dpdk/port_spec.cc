#include "drivers/dpdk/port_spec.hh"

#include <array>
#include <cstdio>

#include "stack/base/text.hh"

namespace twstack::dpdk {
namespace {

constexpr std::string_view kForms =
    "  tap:NAME               a kernel TAP interface NAME (net_tap)\n"
    "  memif:server:SOCKET    shared-memory packet interface, server end (net_memif)\n"
    "  memif:client:SOCKET    the same, client end\n"
    "  ring:NAME              an in-process loopback port (net_ring)\n"
    "  af_packet:IFACE        the kernel interface IFACE through AF_PACKET (net_af_packet)\n"
    "  pci:BDF                a PCI NIC, [DDDD:]BB:DD.F (allowed with -a)\n"
    "  any of them may end in ,key=value,... passed to the driver as is\n";

struct Kind {
  std::string_view word;
  PortKind kind;
  std::string_view driver;  // vdev name prefix; empty for PCI
};
constexpr std::array<Kind, 5> kKinds = {{
    {"tap", PortKind::kTap, "net_tap"},
    {"memif", PortKind::kMemif, "net_memif"},
    {"ring", PortKind::kRing, "net_ring_"},
    {"af_packet", PortKind::kAfPacket, "net_af_packet"},
    {"pci", PortKind::kPci, ""},
}};

std::string refuse(std::string_view text, std::string_view why) {
  std::string m = "bad port '";
  m.append(text);
  m += "': ";
  m.append(why);
  m += "; accepted forms:\n";
  m.append(kForms);
  return m;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_word_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// A kernel interface name as dev_valid_name() (net/core/dev.c) accepts it:
// 1..15 bytes (IFNAMSIZ - 1), not "." or "..", no '/', ':' or whitespace;
// and no ',' or '=', which would split the driver arguments.
std::optional<std::string> check_ifname(std::string_view n) {
  if (n.empty()) return "the interface name is empty";
  if (n.size() > 15) return "interface names are at most 15 characters (IFNAMSIZ)";
  if (n == "." || n == "..") return "'.' and '..' are not interface names";
  for (char c : n) {
    if (c == '/' || c == ':' || c == ',' || c == '=' || c == ' ' || c == '\t' || c == '\n') {
      return std::string("interface names may not contain '") + c + "'";
    }
  }
  return std::nullopt;
}

std::uint32_t hex_value(std::string_view s) {
  std::uint32_t v = 0;
  for (char c : s) {
    v = v * 16 + static_cast<std::uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

// [DDDD:]BB:DD.F, hexadecimal, into DPDK's PCI_PRI_FMT ("%.4x:%.2x:%.2x.%x").
std::optional<std::string> parse_bdf(std::string_view s, std::string* out) {
  constexpr std::string_view kWant = "a PCI address is [DDDD:]BB:DD.F in hexadecimal (0000:03:00.0)";
  std::array<std::string_view, 4> parts{};  // domain, bus, device, function
  std::size_t dot = s.rfind('.');
  if (dot == std::string_view::npos) return std::string(kWant);
  parts[3] = s.substr(dot + 1);
  std::string_view head = s.substr(0, dot);
  std::size_t c2 = head.rfind(':');
  if (c2 == std::string_view::npos) return std::string(kWant);
  parts[2] = head.substr(c2 + 1);
  head = head.substr(0, c2);
  std::size_t c1 = head.rfind(':');
  if (c1 == std::string_view::npos) {
    parts[0] = "0";
    parts[1] = head;
  } else {
    parts[0] = head.substr(0, c1);
    parts[1] = head.substr(c1 + 1);
  }
  constexpr std::array<std::size_t, 4> kMaxDigits = {4, 2, 2, 1};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty() || parts[i].size() > kMaxDigits[i]) return std::string(kWant);
    for (char c : parts[i]) {
      if (!is_hex(c)) return std::string(kWant);
    }
  }
  std::uint32_t dev = hex_value(parts[2]);
  std::uint32_t fn = hex_value(parts[3]);
  if (dev > 0x1f) return "PCI device numbers go up to 1f";
  if (fn > 7) return "PCI function numbers go up to 7";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", hex_value(parts[0]), hex_value(parts[1]), dev, fn);
  *out = buf;
  return std::nullopt;
}

// ",key[=value],..." after the main part: checked for shape, kept verbatim.
// `ours` are the keys the spec itself sets.
std::optional<std::string> check_extra(std::string_view extra, std::span<const std::string_view> ours) {
  if (extra.empty()) return std::nullopt;
  std::size_t pos = 0;
  while (pos <= extra.size()) {
    std::size_t end = extra.find(',', pos);
    if (end == std::string_view::npos) end = extra.size();
    std::string_view item = extra.substr(pos, end - pos);
    std::string_view key = item.substr(0, item.find('='));
    if (key.empty()) return "driver arguments after ',' are key=value pairs; found '" + std::string(item) + "'";
    for (char c : key) {
      if (!is_word_char(c) && c != '-') return "bad driver argument name '" + std::string(key) + "'";
    }
    if (key.size() < item.size() && key.size() + 1 == item.size()) {
      return "driver argument '" + std::string(key) + "' has an empty value";
    }
    for (std::string_view k : ours) {
      if (key == k) return "'" + std::string(key) + "' is set by the spec itself; do not repeat it";
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::string join_args(std::string_view mine, std::string_view extra) {
  std::string a(mine);
  if (!extra.empty()) {
    if (!a.empty()) a += ',';
    a.append(extra);
  }
  return a;
}

}  // namespace

std::string_view port_spec_forms() { return kForms; }

std::vector<std::string> PortSpec::eal_args() const {
  std::string dev = args.empty() ? device : device + "," + args;
  if (is_pci()) return {"-a", dev};
  return {"--vdev=" + dev};
}

std::optional<std::string> parse_port_spec(std::string_view text, unsigned index, PortSpec* out) {
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return refuse(text, "no ':' after the kind of port");
  std::string_view word = text.substr(0, colon);
  const Kind* kind = nullptr;
  for (const Kind& k : kKinds) {
    if (k.word == word) kind = &k;
  }
  if (kind == nullptr) {
    std::string why = "unknown kind '" + std::string(word) + "'";
    for (const Kind& k : kKinds) {
      if (edit_distance(word, k.word, 2) <= 2) {
        why += " (did you mean '" + std::string(k.word) + "'?)";
        break;
      }
    }
    return refuse(text, why);
  }
  std::string_view rest = text.substr(colon + 1);
  std::size_t comma = rest.find(',');
  std::string_view main = rest.substr(0, comma);
  std::string_view extra = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  if (comma != std::string_view::npos && extra.empty()) return refuse(text, "nothing after ','");

  PortSpec s;
  s.kind = kind->kind;
  s.text = std::string(text);
  std::optional<std::string> bad;
  std::string mine;
  switch (kind->kind) {
    case PortKind::kTap:
    case PortKind::kAfPacket: {
      static constexpr std::array<std::string_view, 1> kOurs = {"iface"};
      bad = check_ifname(main);
      if (!bad) bad = check_extra(extra, kOurs);
      mine = "iface=" + std::string(main);
      s.device = std::string(kind->driver) + std::to_string(index);
      break;
    }
    case PortKind::kMemif: {
      static constexpr std::array<std::string_view, 2> kOurs = {"role", "socket"};
      std::size_t c = main.find(':');
      std::string_view role = main.substr(0, c);
      std::string_view socket = c == std::string_view::npos ? std::string_view{} : main.substr(c + 1);
      if (role != "server" && role != "client") {
        bad = "memif needs a role, server or client, then ':' and the socket path";
      } else if (socket.empty()) {
        bad = "memif needs a socket path after the role";
      } else if (socket.size() > 107) {
        bad = "the socket path is longer than 107 bytes (sockaddr_un)";
      } else {
        bad = check_extra(extra, kOurs);
      }
      // DPDK 22.11 makes the socket abstract by default (socket-abstract=yes):
      // no file appears. ",socket-abstract=no" gives a file, as VPP expects.
      mine = "role=" + std::string(role) + ",socket=" + std::string(socket);
      s.device = std::string(kind->driver) + std::to_string(index);
      break;
    }
    case PortKind::kRing: {
      // The PMD names each queue's ring "ETH_RXTX<q>_net_ring_<NAME>", and
      // ring names have at most 28 characters (RTE_RING_NAMESIZE - 1).
      if (main.empty() || main.size() > 8) {
        bad = "ring names are 1 to 8 characters";
      } else {
        for (char c : main) {
          if (!is_word_char(c)) bad = "ring names are letters, digits and '_'";
        }
      }
      if (!bad) bad = check_extra(extra, {});
      s.device = std::string(kind->driver) + std::string(main);
      break;
    }
    case PortKind::kPci: {
      bad = parse_bdf(main, &s.device);
      if (!bad) bad = check_extra(extra, {});
      break;
    }
  }
  if (bad) return refuse(text, *bad);
  s.args = join_args(mine, extra);
  *out = std::move(s);
  return std::nullopt;
}

std::optional<std::string> parse_port_specs(std::span<const std::string> texts, std::vector<PortSpec>* out) {
  std::vector<PortSpec> specs;
  std::array<unsigned, kKinds.size()> next{};
  for (const std::string& t : texts) {
    PortSpec s;
    // The index a vdev of this kind would get; only used once parsed.
    std::size_t k = 0;
    for (std::size_t i = 0; i < kKinds.size(); ++i) {
      if (t.starts_with(std::string(kKinds[i].word) + ":")) k = i;
    }
    if (auto err = parse_port_spec(t, next[k], &s)) return err;
    ++next[k];
    for (const PortSpec& o : specs) {
      bool same_iface = o.kind == s.kind && (s.kind == PortKind::kTap || s.kind == PortKind::kAfPacket) &&
                        o.args.substr(0, o.args.find(',')) == s.args.substr(0, s.args.find(','));
      if (same_iface || ((s.kind == PortKind::kRing || s.kind == PortKind::kPci) && o.device == s.device)) {
        return "ports '" + o.text + "' and '" + s.text + "' name the same device";
      }
    }
    specs.push_back(std::move(s));
  }
  *out = std::move(specs);
  return std::nullopt;
}

}  // namespace twstack::dpdk
