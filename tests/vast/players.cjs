// Parses rendered VAST/VMAP files with the players' own parsers (@dailymotion/vast-client,
// @dailymotion/vmap) on an @xmldom/xmldom DOM, and prints what they saw as JSON.
// usage: node players.cjs manifest.json   (manifest: [{"path": ..., "kind": "vast"|"vmap"}])
'use strict';
const fs = require('fs');
const { DOMParser, XMLSerializer } = require('@xmldom/xmldom');
const { VASTParser } = require('@dailymotion/vast-client');
const VMAP = require('@dailymotion/vmap');

function load(text, problems) {
  const parser = new DOMParser({
    onError: (level, message) => problems.push(`xml ${level}: ${message}`),
  });
  return parser.parseFromString(text, 'text/xml');
}

async function parseVast(text) {
  const problems = [];
  const events = [];
  const doc = load(text, problems);
  const parser = new VASTParser();
  parser.on('VAST-warning', (w) => problems.push(`warning: ${w.message}`));
  parser.on('VAST-error', (e) => events.push(e.ERRORCODE));
  try {
    const response = await parser.parseVAST(doc);
    const ads = response.ads.map((ad) => {
      const linear = ad.creatives.find((c) => c.type === 'linear');
      return {
        id: ad.id,
        sequence: ad.sequence,
        adServingId: ad.adServingId || null,
        impressions: ad.impressionURLTemplates.length,
        errors: ad.errorURLTemplates.length,
        verifications: ad.adVerifications.length,
        mediaFiles: linear ? linear.mediaFiles.length : 0,
        duration: linear ? linear.duration : null,
        events: linear ? Object.keys(linear.trackingEvents).sort() : [],
        clickThrough: linear ? linear.videoClickThroughURLTemplate && linear.videoClickThroughURLTemplate.url : null,
        clickTracking: linear ? linear.videoClickTrackingURLTemplates.length : 0,
        wrapperUrl: ad.VASTAdTagURI || null,
      };
    });
    return { version: response.version, ads, problems, errorEvents: events };
  } catch (e) {
    problems.push(`throw: ${e.message}`);
    return { version: null, ads: [], problems, errorEvents: events };
  }
}

async function parseVmap(text) {
  const problems = [];
  const doc = load(text, problems);
  try {
    const vmap = new VMAP(doc);
    const breaks = [];
    for (const b of vmap.adBreaks) {
      const entry = { timeOffset: b.timeOffset, breakId: b.breakId, tracking: b.trackingEvents.length };
      if (b.adSource && b.adSource.vastAdData) {
        entry.vast = await parseVast(new XMLSerializer().serializeToString(b.adSource.vastAdData));
      }
      if (b.adSource && b.adSource.adTagURI) entry.adTagURI = b.adSource.adTagURI.uri;
      breaks.push(entry);
    }
    return { version: vmap.version, breaks, problems };
  } catch (e) {
    problems.push(`throw: ${e.message}`);
    return { version: null, breaks: [], problems };
  }
}

(async () => {
  const manifest = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const out = [];
  for (const item of manifest) {
    const text = fs.readFileSync(item.path, 'utf8');
    out.push(Object.assign({ path: item.path, kind: item.kind },
      item.kind === 'vmap' ? await parseVmap(text) : await parseVast(text)));
  }
  process.stdout.write(JSON.stringify(out));
})();
