#!/bin/bash
# Runs ullm's tests on an emulated AVX-512 CPU, for machines that lack one:
# Debian's Bochs (whose "tigerlake" model executes AVX-512 F/BW/DQ/VL with
# VNNI) boots Debian's cloud kernel from a CD image whose initramfs holds
# the test binary, its libraries and ../shared; the serial console is the
# test output. QEMU cannot do this: its emulator stops at AVX2.
#
#   scripts/test-avx512-in-bochs.sh [gtest filter] [build dir]
#
# The default filter takes the per-target kernel tests, each of which
# compares one target's kernels with the scalar references, on every target
# the emulated CPU runs (sse4, avx2, avx512). Bochs 2.7 has a fault of its
# own: its VCVTPS2PH rounds halfway cases away from even (0x38b6d000 gives
# 0x05b7, hardware 0x05b6), so the tests that round floats to halves fail
# on avx2 and avx512 alike, and the load-time self-check refuses both (so
# tests that select a target, the end-to-end ones, cannot run here). A test
# that fails on avx512 but passes on avx2 is what to look at. Bochs emulates
# some 25 million instructions a second here: the default run takes about
# 15 minutes, most of it booting. Exits with the tests' status. Needs root
# for its packages (Debian's only); run from anywhere.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
filter=${1:-'Targets/SimdTargetTest.*'}
build=${2:-$repo/build}
shared=${ULLM_SHARED_DIR:-$repo/../shared}
work=${BOCHS_WORK_DIR:-/tmp/ullm-bochs}

source "$repo/scripts/apt-missing.sh"
apt_install_missing bochs bochsbios vgabios isolinux syslinux-common xorriso busybox-static cpio
cmake --build "$build" --target ullm_tests >/dev/null
tests=$build/tests/ullm_tests

mkdir -p "$work"
cd "$work"
if [[ ! -f vmlinuz ]]; then
  kernel=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
  rm -rf kernel-deb && mkdir kernel-deb
  (cd kernel-deb && apt-get download -q "$kernel" && dpkg-deb -x ./*.deb .) >&2
  cp kernel-deb/boot/vmlinuz-* vmlinuz
fi

# The initramfs: busybox for /init, the test binary with the libraries it
# links, and the shared models and references (without the tokenizer
# vocabularies, which no per-target test reads).
root=$work/root
rm -rf "$root" iso && mkdir -p "$root"/{bin,p,proc,dev,shared} iso/isolinux
cp /bin/busybox "$root/bin/"
for tool in sh mount poweroff grep tr; do ln -s busybox "$root/bin/$tool"; done
cp "$tests" "$root/p/"
for lib in $(ldd "$tests" | grep -o '/[^ ]*\.so[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
done
cp -rL "$shared/models" "$shared/reference" "$root/shared/"
rm -rf "$root/shared/reference/tokenizer"
cat >"$root/init" <<EOF
#!/bin/sh
mount -t proc proc /proc
echo "cpu: \$(grep -m1 flags /proc/cpuinfo | grep -o 'avx512[a-z_0-9]*' | tr '\n' ' ')"
cd /p && ULLM_SHARED_DIR=/shared ./ullm_tests --gtest_color=no --gtest_filter='$filter'
echo "ullm_tests exit status: \$?"
sleep 5  # lets the serial line drain: poweroff -f does not wait for it
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >iso/initrd.img

# Kernel options work around Bochs 2.7's CPUID and string-copy faults:
# it announces PKRU state it does not describe, reports the standard XSAVE
# size where the compacted one belongs (so XSAVES/XSAVEC go), and its
# fast `rep movsb` corrupts the kernel's code patching (so ERMS/FSRM go).
cp vmlinuz iso/
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 iso/isolinux/
pku=515 ospke=516 xsavec=321 xsaves=323 erms=297 fsrm=580
cat >iso/isolinux/isolinux.cfg <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
LABEL linux
  KERNEL /vmlinuz
  APPEND initrd=/initrd.img console=ttyS0 rdinit=/init quiet nokaslr nopku clearcpuid=$pku,$ospke,$xsavec,$xsaves,$erms,$fsrm
EOF
xorriso -as mkisofs -quiet -o boot.iso -b isolinux/isolinux.bin -c isolinux/boot.cat \
  -no-emul-boot -boot-load-size 4 -boot-info-table iso 2>/dev/null  # (its banner; failures still stop here)

# Debian's Bochs has no headless display and starts in its debugger: the
# VNC display waits for no one, and "c" on stdin continues.
cat >bochsrc <<EOF
cpu: model=tigerlake, count=1, ips=200000000
memory: guest=2048, host=2048
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=serial.txt
display_library: rfb, options="timeout=0"
clock: sync=none, time0=local
speaker: enabled=0
mouse: enabled=0
log: bochs.log
EOF
rm -f serial.txt
echo "booting Bochs (tigerlake); the tests' output follows when they finish" >&2
printf 'c\n' | timeout 7200 bochs -q -f bochsrc >bochs.out 2>&1 || true
# The test output, from the CPU line on (the kernel's boot messages are quiet).
sed -n '/^cpu: /,$p' serial.txt | tr -d '\r'
status=$(sed -n 's/^ullm_tests exit status: \([0-9]*\).*/\1/p' serial.txt)
[[ -n "$status" ]] || { echo "the emulated machine did not finish; see $work/bochs.log" >&2; exit 1; }
exit "$status"
