/// <reference lib="dom" />
/**
 * The cluster as a picture (SVG): the members on a circle, the leader marked and joined to
 * each other member, learners dashed, the member serving this console ringed, and members
 * the serving one has no peer connection to, or that did not answer its status call, drawn
 * as down. Redrawn from each poll of the
 * Cluster page, so leader, membership and connectivity changes show as they happen.
 */

const SVG = "http://www.w3.org/2000/svg";

/** One member as drawn. */
export interface PictureMember {
  id: bigint;
  name: string;
  learner: boolean;
}

/** What the picture shows. */
export interface PictureState {
  members: PictureMember[];
  /** The leader's id (0: none known). */
  leader: bigint;
  /** The member serving the console. */
  self: bigint;
  /** Whether the serving member reports itself healthy. */
  healthy: boolean;
  /** The serving member's peer connection to each other member, by id in hex (if known). */
  peers: Map<string, boolean>;
  /** The error each member that gave no status gave instead, by id in hex. */
  errors: Map<string, string>;
}

/** Why member `id` is drawn as down, or undefined when it is not. */
function downReason(state: PictureState, id: bigint): string | undefined {
  const hex = id.toString(16);
  const error = state.errors.get(hex);
  if (error !== undefined) return error;
  if (state.peers.get(hex) === false) return "no connection from the serving member";
  return undefined;
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Draws `state` into a new <svg>. */
export function drawCluster(state: PictureState): SVGSVGElement {
  const size = 320;
  const c = size / 2;
  const radius = state.members.length <= 1 ? 0 : 105;
  const root = svg("svg", {
    viewBox: `0 0 ${size} ${size}`,
    width: size,
    height: size,
    role: "img",
    class: "cluster-picture",
    "aria-label": `${state.members.length} members`,
  });
  const at = state.members.map((_, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, state.members.length);
    return { x: c + radius * Math.cos(a), y: c + radius * Math.sin(a) };
  });
  const li = state.members.findIndex((m) => m.id === state.leader);
  if (li >= 0) {
    state.members.forEach((m, i) => {
      if (i === li) return;
      const down = downReason(state, m.id) !== undefined ||
        downReason(state, state.leader) !== undefined;
      root.appendChild(svg("line", {
        x1: at[li].x,
        y1: at[li].y,
        x2: at[i].x,
        y2: at[i].y,
        class: `link${m.learner ? " learner" : ""}${down ? " down" : ""}`,
      }));
    });
  }
  state.members.forEach((m, i) => {
    const role = m.id === state.leader ? "leader" : m.learner ? "learner" : "follower";
    const reason = downReason(state, m.id);
    const down = reason !== undefined;
    const g = svg("g", {
      class: `member ${role}${down ? " down" : ""}`,
      "data-member": m.name || m.id.toString(16),
    });
    const link = down ? ` (down: ${reason})` : "";
    g.appendChild(
      svg("title", {}, `${m.name || "(unstarted)"} ${m.id.toString(16)}: ${role}${link}`),
    );
    if (m.id === state.self) {
      g.appendChild(svg("circle", {
        cx: at[i].x,
        cy: at[i].y,
        r: 36,
        class: state.healthy ? "self" : "self unhealthy",
      }));
    }
    g.appendChild(svg("circle", { cx: at[i].x, cy: at[i].y, r: 28 }));
    g.appendChild(
      svg("text", { x: at[i].x, y: at[i].y + 4, "text-anchor": "middle" }, down ? "down" : role),
    );
    g.appendChild(
      svg("text", { x: at[i].x, y: at[i].y + 52, "text-anchor": "middle", class: "name" }, m.name),
    );
    root.appendChild(g);
  });
  return root;
}
