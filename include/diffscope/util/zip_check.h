// Integrity of the zip archives torch.jit.save writes (LibTorch itself does not check their CRC-32s, so flipped
// bytes inside a weight tensor would load and run).
#pragma once
#include <cstdint>
#include <string>

namespace diffscope {

/// Checks every entry of the zip archive at `path` (stored entries, zip64 included) against the CRC-32 its central
/// directory records; returns the bytes checked. Error naming the file and the entry on the first mismatch, or when
/// the file is not a readable zip archive.
uint64_t verify_zip_crc(const std::string& path);

}  // namespace diffscope
