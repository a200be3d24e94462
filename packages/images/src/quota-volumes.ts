/**
 * QuotaVolumes hold the per-container directories of an OverlayVolumizer (upper, work and
 * the rootfs mount point), each as one volume whose bytes can be capped and counted.
 * BtrfsQuotaVolumes enforces; UnenforcedQuotaVolumes is the null object used when the host
 * cannot (it says why).
 */
export interface QuotaVolumes {
  /** unenforcedReason is '' when byte limits bite, else why they cannot, like 'mkfs.btrfs not found'. */
  readonly unenforcedReason: string;
  /**
   * create makes dir, like /var/lib/arbor/overlays/<handle>, as a volume; a dir already there is kept.
   * @throws HostPreconditionError when the host no longer lets the volumes' filesystem mount (another
   * mount in its place, no free loop device)
   */
  create(dir: string): Promise<void>;
  /**
   * limit caps the bytes written under dir; 0 removes the cap.
   * @throws ArborError failedPrecondition when limits cannot be enforced on this host
   */
  limit(dir: string, bytes: number): Promise<void>;
  /** usage is the bytes dir's volume holds on disk, or undefined when this mechanism does not count them. */
  usage(dir: string): Promise<number | undefined>;
  /** remove deletes dir with its cap and its count; a dir already gone is fine. */
  remove(dir: string): Promise<void>;
  /** release lets go of host resources (a loop mount) once no volume is left; create takes them again. */
  release(): Promise<void>;
}
