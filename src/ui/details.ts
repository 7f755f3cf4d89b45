// The side panel for one object: what it is, its owners and children (clickable), its events
// and its YAML. Fetched when the object is clicked (kgql's typed get field for its kind), so the
// streams carry only what the graph needs. kgql never serves Secret values (raw has none).
import { stringify } from "yaml";
import { gql } from "./api.ts";
import { detailsQuery, uiKind } from "./kinds.ts";

interface Ref {
  uid: string;
  kind: string;
  name: string;
  namespace: string | null;
}

interface Details extends Ref {
  creationTimestamp: string | null;
  labels: Record<string, string>;
  owners: Ref[];
  children: Ref[];
  events: {
    type: string | null;
    reason: string | null;
    message: string | null;
    count: number | null;
    lastTimestamp: string | null;
  }[];
  raw: Record<string, unknown>;
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};

export class DetailsPanel {
  private shown = 0;

  private readonly panel: HTMLElement;
  private readonly onNavigate: (ref: Ref) => void;

  constructor(panel: HTMLElement, onNavigate: (ref: Ref) => void) {
    this.panel = panel;
    this.onNavigate = onNavigate;
  }

  close(): void {
    this.shown++;
    this.panel.hidden = true;
    this.panel.replaceChildren();
  }

  /** A group of pods: what it holds, and how to see them one by one. */
  showGroup(title: string, lines: string[], onExpand: () => void): void {
    this.shown++;
    this.panel.hidden = false;
    const expand = el("button", "Show each pod");
    expand.addEventListener("click", onExpand);
    this.panel.replaceChildren(this.header(title), ...lines.map((l) => el("p", l)), expand);
  }

  async show(ref: { kind: string; name: string; namespace: string | null }): Promise<void> {
    const k = uiKind(ref.kind);
    if (!k) return;
    const mine = ++this.shown;
    this.panel.hidden = false;
    this.panel.replaceChildren(this.header(`${ref.kind} ${ref.name}`), el("p", "Loading…", "muted"));
    let d: Details | null;
    try {
      const data = await gql<{ object: Details | null }>(detailsQuery(k), {
        name: ref.name,
        ...(k.namespaced ? { namespace: ref.namespace } : {}),
      });
      d = data.object;
    } catch (err) {
      if (mine === this.shown)
        this.panel.replaceChildren(
          this.header(`${ref.kind} ${ref.name}`),
          el("p", String((err as Error).message), "error"),
        );
      return;
    }
    if (mine !== this.shown) return;
    if (!d) {
      this.panel.replaceChildren(
        this.header(`${ref.kind} ${ref.name}`),
        el("p", "Not found (deleted?)", "muted"),
      );
      return;
    }
    this.panel.replaceChildren(
      this.header(`${d.kind} ${d.name}`),
      this.facts(d),
      this.refs("Owners", d.owners),
      this.refs("Children", d.children),
      this.events(d),
      this.yaml(d),
    );
  }

  private header(title: string): HTMLElement {
    const h = el("div", undefined, "details-head");
    const close = el("button", "×", "close");
    close.title = "Close";
    close.addEventListener("click", () => this.close());
    h.append(el("h2", title), close);
    return h;
  }

  private facts(d: Details): HTMLElement {
    const dl = el("dl");
    const add = (k: string, v: string) => dl.append(el("dt", k), el("dd", v));
    if (d.namespace) add("Namespace", d.namespace);
    add("Created", d.creationTimestamp ?? "—");
    add("UID", d.uid);
    const labels = Object.entries(d.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    add("Labels", labels.join(", ") || "—");
    return dl;
  }

  private refs(title: string, refs: Ref[]): HTMLElement {
    const section = el("section");
    section.append(el("h3", `${title} (${refs.length})`));
    if (refs.length === 0) section.append(el("p", "none", "muted"));
    const ul = el("ul", undefined, "refs");
    for (const r of refs.slice(0, 200)) {
      const li = el("li");
      const a = el("a", `${r.kind} ${r.name}`);
      a.href = "#";
      a.addEventListener("click", (e) => {
        e.preventDefault();
        this.onNavigate(r);
      });
      li.append(a);
      ul.append(li);
    }
    if (refs.length > 200) ul.append(el("li", `… and ${refs.length - 200} more`, "muted"));
    section.append(ul);
    return section;
  }

  private events(d: Details): HTMLElement {
    const section = el("section");
    section.append(el("h3", `Events (${d.events.length})`));
    if (d.events.length === 0) section.append(el("p", "none", "muted"));
    const ul = el("ul", undefined, "events");
    for (const e of d.events.slice(-50).reverse()) {
      const li = el("li", undefined, e.type === "Warning" ? "warning" : "");
      li.append(
        el("b", `${e.reason ?? ""}${e.count && e.count > 1 ? ` ×${e.count}` : ""}`),
        el("span", ` ${e.message ?? ""}`),
      );
      ul.append(li);
    }
    section.append(ul);
    return section;
  }

  private yaml(d: Details): HTMLElement {
    const section = el("section");
    const summary = el("h3", "YAML");
    section.append(summary, el("pre", stringify(d.raw), "yaml"));
    return section;
  }
}
