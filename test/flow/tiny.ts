// Shared by the flow tests: small network configurations and a synthetic image/mask pair.
export const TINY = { imageSize: 8, modelChannels: 32, channelMult: [1, 2], attentionResolutions: [4], numClasses: 4 };
/** One level (no down/upsampling, attention only in the middle block): any spatial size, cheapest per step. */
export const SMALL = { imageSize: 4, modelChannels: 32, channelMult: [1], attentionResolutions: [] as number[], numClasses: 4 };

/** A smooth S³ image in [0, 1] with a bright tube where the mask is. */
export function tinyPair(S = 8): { image: Float32Array; mask: Float32Array } {
  const n = S * S * S;
  const image = new Float32Array(n);
  const mask = new Float32Array(n);
  for (let z = 0; z < S; z++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const i = (z * S + y) * S + x;
        const r = Math.hypot(y - S / 2 + 0.5, x - S / 2 + 0.5 + (z - S / 2) * 0.3);
        mask[i] = r < S / 4 ? 1 : 0;
        image[i] = mask[i] ? 0.85 : 0.15 + 0.1 * Math.sin(z + 0.7 * y);
      }
  return { image, mask };
}
