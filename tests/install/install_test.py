#!/usr/bin/env python3
"""What `meson install` gives an embedder is enough to build on twstack.

Installs the current build tree into an empty temporary folder
(meson install --destdir D --no-rebuild --skip-subprojects), then, from
outside the source tree and against nothing but what landed in D:

  1. checks the installed .pc files and headers: every "..." include in an
     installed header resolves inside include/twstack, and every -l of
     twstack.pc and twstack-dpdk.pc names an installed library;
  2. builds tests/install/stack_project: engine_min on twstack.pc alone (no
     DPDK: a QueueEngine answering an ARP request and a SYN) and sim_min on
     twstack-memory.pc (two engines over the in-memory link), and runs both;
  3. builds apps/forward (twstack-forward) from a copy of its sources with
     tests/install/forward_project/meson.build, which finds everything through
     dependency('twstack-dpdk'), and runs `twstack-forward --help` (exits 0
     before the EAL starts);
  4. links each program again on a plain command line with `pkg-config
     --libs`, in the .pc's order (meson's link line groups static libraries,
     so it would not notice a wrong order), and runs that too.

No root, no EAL, no hugepages. A header or library missing from the install
fails step 1, 2 or 3. TWSTACK_INSTALL_TEST_KEEP=1 keeps the temporary folder.
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


class Failure(Exception):
    pass


def run(cmd, env=None, cwd=None, check=True):
    print('$', shlex.join(cmd), flush=True)
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if check and p.returncode != 0:
        sys.stdout.write(p.stdout[-8000:])
        line = shlex.join(cmd)
        raise Failure(f'exit {p.returncode} from {line[:160]}{" ..." if len(line) > 160 else ""}')
    return p


def staged(dest, prefix, path):
    """Where `meson install --destdir dest` put prefix-relative or absolute `path`."""
    full = path if os.path.isabs(path) else os.path.join(prefix, path)
    return os.path.join(dest, full.lstrip('/'))


def pkg_config_env(tmp, pcdir, root):
    """An environment in which pkg-config (and so meson's dependency()) finds
    the staged .pc files first, libdpdk.pc where it always is.

    Our .pc files are relocatable (pkgconfig.relocatable, the root
    meson.build): prefix=${pcfiledir}/../../.., so pointing PKG_CONFIG_PATH at
    D/<prefix>/<libdir>/pkgconfig is all it takes, and the files are used
    exactly as installed. What does not work: `pkg-config --define-prefix`
    derives the prefix by dropping two levels (lib/pkgconfig), wrong under
    Debian's lib/<arch>/pkgconfig, and it rewrites libdpdk.pc's prefix too;
    PKG_CONFIG_SYSROOT_DIR=D prefixes every -I and -L, libdpdk's
    /usr/include/dpdk included; meson's pkg_config_path only says where to
    look, like PKG_CONFIG_PATH. For a tree configured with
    -Dpkgconfig.relocatable=false, copies of the files with prefix= set to
    D/<prefix> stand in."""
    with open(os.path.join(pcdir, 'twstack.pc'), encoding='utf-8') as f:
        relocatable = any(line.startswith('prefix=${pcfiledir}') for line in f)
    if not relocatable:
        copies = os.path.join(tmp, 'pkgconfig')
        os.makedirs(copies)
        for name in os.listdir(pcdir):
            if name.endswith('.pc'):
                with open(os.path.join(pcdir, name), encoding='utf-8') as f:
                    text = f.read()
                text = re.sub(r'^prefix=.*$', 'prefix=' + root, text, count=1, flags=re.MULTILINE)
                with open(os.path.join(copies, name), 'w', encoding='utf-8') as f:
                    f.write(text)
        print(f'not relocatable: prefix= rewritten to {root} in copies under {copies}')
        pcdir = copies
    env = dict(os.environ)
    env['PKG_CONFIG_PATH'] = os.pathsep.join(p for p in [pcdir, env.get('PKG_CONFIG_PATH')] if p)
    return env


def check_headers(twstack_inc):
    """Every quoted include in an installed header resolves inside the install."""
    missing = []
    count = 0
    for dirpath, _, files in os.walk(twstack_inc):
        for name in files:
            path = os.path.join(dirpath, name)
            count += 1
            with open(path, encoding='utf-8') as f:
                for inc in INCLUDE_RE.findall(f.read()):
                    if not (os.path.isfile(os.path.join(twstack_inc, inc))
                            or os.path.isfile(os.path.join(dirpath, inc))):
                        missing.append(f'{os.path.relpath(path, twstack_inc)} includes "{inc}"')
    if count == 0:
        raise Failure(f'no headers installed under {twstack_inc}')
    if missing:
        raise Failure('installed headers include what was not installed:\n  ' + '\n  '.join(missing))
    print(f'{count} headers under include/twstack; their includes all resolve there')


def check_pc(env, twstack_inc, libdir):
    def pc(*args):
        return run(['pkg-config', *args], env=env).stdout.split()

    for name in ['twstack', 'twstack-memory', 'twstack-dpdk']:
        print(f'{name}: {" ".join(pc("--cflags", "--libs", name))}')
    # -I${includedir}/twstack, so "stack/engine/engine.hh" resolves.
    incs = {os.path.realpath(a[2:]) for a in pc('--cflags-only-I', 'twstack') if a.startswith('-I')}
    if os.path.realpath(twstack_inc) not in incs:
        raise Failure(f'pkg-config --cflags twstack lacks -I{twstack_inc}')
    # twstack.pc stands alone: no Requires, no DPDK.
    if pc('--print-requires', 'twstack'):
        raise Failure('twstack.pc has Requires: it should need nothing but Boost headers')
    dpdk_words = [a for a in pc('--cflags', '--libs', 'twstack') if 'dpdk' in a or 'rte_' in a]
    if dpdk_words:
        raise Failure(f'twstack.pc brings in DPDK: {dpdk_words}')
    requires = {r.split()[0] for r in run(['pkg-config', '--print-requires', 'twstack-dpdk'],
                                          env=env).stdout.splitlines() if r.strip()}
    if not {'twstack', 'libdpdk'} <= requires:
        raise Failure(f'twstack-dpdk.pc requires {sorted(requires)}, not twstack and libdpdk')
    # Every twstack library a .pc names was installed.
    for name in ['twstack', 'twstack-memory', 'twstack-dpdk']:
        for a in pc('--libs-only-l', name):
            lib = a[2:]
            if lib.startswith('twstack') and not any(
                    os.path.exists(os.path.join(libdir, f'lib{lib}{ext}')) for ext in ('.a', '.so')):
                raise Failure(f'{name}.pc links -l{lib}, but lib{lib} is not installed in {libdir}')


def copy_forward(sourcedir, proj):
    """apps/forward's sources under proj/apps/forward, and forward_project's
    meson.build at proj/."""
    src = os.path.join(sourcedir, 'apps', 'forward')
    os.makedirs(os.path.join(proj, 'apps'))
    shutil.copytree(src, os.path.join(proj, 'apps', 'forward'),
                    ignore=shutil.ignore_patterns('meson.build', '*_test.cc'))
    shutil.copy(os.path.join(HERE, 'forward_project', 'meson.build'), proj)


def check_forward_includes(proj, twstack_inc):
    """Every quoted include of the copy is its own or installed (nothing from
    apps/twstack or elsewhere in the tree)."""
    bad = []
    fwd = os.path.join(proj, 'apps', 'forward')
    for name in sorted(os.listdir(fwd)):
        with open(os.path.join(fwd, name), encoding='utf-8') as f:
            for inc in INCLUDE_RE.findall(f.read()):
                if not (os.path.isfile(os.path.join(proj, inc))
                        or os.path.isfile(os.path.join(twstack_inc, inc))):
                    bad.append(f'apps/forward/{name} includes "{inc}"')
    if bad:
        raise Failure('apps/forward includes what is neither its own nor installed:\n  '
                      + '\n  '.join(bad))


def build(meson, src, builddir, env, setup_args):
    run([*meson, 'setup', builddir, src, '--wrap-mode=nodownload', *setup_args], env=env)
    run([*meson, 'compile', '-C', builddir, '-j', '2'], env=env)


def relink_plain(cxx, builddir, exe, package, env, sanitize):
    """Links exe's objects again with nothing but `pkg-config --libs package`
    in its order. Meson wraps static libraries in --start-group/--end-group,
    which would hide a .pc that lists a library before one it uses; a
    Makefile or a plain command line does not."""
    objs = sorted(os.path.join(dirpath, f)
                  for dirpath, _, files in os.walk(os.path.join(builddir, exe + '.p'))
                  for f in files if f.endswith('.o'))
    libs = run(['pkg-config', '--libs', package], env=env).stdout.split()
    san = [f'-fsanitize={sanitize}'] if sanitize != 'none' else []
    out = os.path.join(builddir, exe + '-plain')
    run([*cxx, *san, '-o', out, *objs, *libs])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--meson', required=True, help='the meson command')
    ap.add_argument('--builddir', required=True)
    ap.add_argument('--sourcedir', required=True)
    ap.add_argument('--prefix', required=True)
    ap.add_argument('--libdir', required=True)
    ap.add_argument('--includedir', required=True)
    ap.add_argument('--cxx', default='', help='the build tree\'s C++ compiler command')
    ap.add_argument('--sanitize', default='none', help='the build tree\'s b_sanitize')
    a = ap.parse_args()
    if shutil.which('pkg-config') is None:
        print('no pkg-config: skipped')
        return SKIP
    meson = shlex.split(a.meson)

    tmp = tempfile.mkdtemp(prefix='twstack-install-')
    try:
        dest = os.path.join(tmp, 'dest')
        run([*meson, 'install', '-C', a.builddir, '--destdir', dest, '--no-rebuild',
             '--skip-subprojects', '--quiet'])
        root = staged(dest, a.prefix, a.prefix)
        libdir = staged(dest, a.prefix, a.libdir)
        twstack_inc = os.path.join(staged(dest, a.prefix, a.includedir), 'twstack')
        pcdir = os.path.join(libdir, 'pkgconfig')
        for name in ['twstack.pc', 'twstack-dpdk.pc', 'twstack-memory.pc']:
            if not os.path.isfile(os.path.join(pcdir, name)):
                raise Failure(f'{name} was not installed in {pcdir}')
        check_headers(twstack_inc)
        env = pkg_config_env(tmp, pcdir, root)
        check_pc(env, twstack_inc, libdir)

        # Build like the tree was built: same compiler, same sanitizers (an
        # instrumented static library needs its runtime at link time).
        if a.cxx:
            env['CXX'] = a.cxx
        setup_args = ['--buildtype=plain']
        if a.sanitize != 'none':
            setup_args += [f'-Db_sanitize={a.sanitize}', '-Db_lundef=false']

        stack = os.path.join(tmp, 'stack')
        shutil.copytree(os.path.join(HERE, 'stack_project'), stack)
        build(meson, stack, os.path.join(tmp, 'stack-build'), env, setup_args)
        cxx = shlex.split(a.cxx) if a.cxx else ['c++']
        for exe, package in [('engine_min', 'twstack'), ('sim_min', 'twstack-memory')]:
            sys.stdout.write(run([os.path.join(tmp, 'stack-build', exe)]).stdout)
            plain = relink_plain(cxx, os.path.join(tmp, 'stack-build'), exe, package, env, a.sanitize)
            sys.stdout.write(run([plain]).stdout)

        fwd = os.path.join(tmp, 'forward')
        copy_forward(a.sourcedir, fwd)
        check_forward_includes(fwd, twstack_inc)
        build(meson, fwd, os.path.join(tmp, 'forward-build'), env, setup_args)
        plain = relink_plain(cxx, os.path.join(tmp, 'forward-build'), 'twstack-forward', 'twstack-dpdk',
                             env, a.sanitize)
        for exe in [os.path.join(tmp, 'forward-build', 'twstack-forward'), plain]:
            out = run([exe, '--help']).stdout
            if 'usage: twstack-forward' not in out:
                raise Failure(f'{exe} --help printed no usage:\n{out}')
        print('twstack-forward --help: exit 0, usage printed')
    except Failure as e:
        print(f'FAIL: {e}', flush=True)
        return 1
    finally:
        if os.environ.get('TWSTACK_INSTALL_TEST_KEEP'):
            print(f'kept {tmp}')
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print('OK: built and ran against the installed twstack alone')
    return 0


if __name__ == '__main__':
    sys.exit(main())
